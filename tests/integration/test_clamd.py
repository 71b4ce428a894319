"""test_clamd.py - mailroom-scan (the clamd client of the content filter)
against a real clamd.

Each test starts Debian's clamd (clamdtest.py) with a one-signature
database made by the test and a StreamMaxLength of 1 MiB.
"""
import os
import shutil
import subprocess
import tempfile

import pytest

from clamdtest import EICAR, MESSAGE, SIGNAME, Clamd
from conftest import BIN


@pytest.fixture
def clamd():
    d = tempfile.mkdtemp(prefix="mailroom-clamd-", dir="/tmp")
    c = Clamd(d)
    c.start()
    yield c
    c.stop()
    shutil.rmtree(d, ignore_errors=True)


def write(d, name, data):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def scan(args, stdin=None):
    return subprocess.run([os.path.join(BIN, "mailroom-scan"), *args], input=stdin,
                          capture_output=True, timeout=60)


def test_infected_and_clean(clamd):
    bad = write(clamd.dir, "eicar.eml", MESSAGE + EICAR + b"\r\n")
    good = write(clamd.dir, "clean.eml", MESSAGE)
    r = scan(["-S", clamd.sock, good, bad])
    assert r.stdout.decode() == f"{good}: OK\n{bad}: {SIGNAME} FOUND\n"
    assert r.returncode == 1
    r = scan(["-S", clamd.sock, good])
    assert (r.stdout, r.returncode) == (f"{good}: OK\n".encode(), 0)


def test_signature_across_chunks(clamd):
    """The client sends 64 KiB chunks: a signature cut in two by a chunk
    boundary is still found; the same size without it is clean."""
    body = b"x" * (65536 - len(MESSAGE) - 30) + b"\r\n"
    bad = write(clamd.dir, "split.eml", MESSAGE + body + EICAR + b"\r\n")
    good = write(clamd.dir, "big.eml", MESSAGE + body * 3)
    r = scan(["-S", clamd.sock, bad, good])
    assert r.stdout.decode() == f"{bad}: {SIGNAME} FOUND\n{good}: OK\n"
    assert r.returncode == 1


def test_stdin(clamd):
    r = scan(["-S", clamd.sock], stdin=EICAR)
    assert (r.stdout, r.returncode) == (f"-: {SIGNAME} FOUND\n".encode(), 1)


def test_too_long(clamd):
    """Above clamd_max_size the client stops sending and says so; at the
    size it scans. A maximum above clamd's own StreamMaxLength gets clamd's
    error: never a clean verdict."""
    limit = 1024 * 1024
    at = write(clamd.dir, "at.eml", MESSAGE + b"y" * (limit - len(MESSAGE)))
    over = write(clamd.dir, "over.eml", MESSAGE + b"y" * (limit - len(MESSAGE) + 1))
    r = scan(["-S", clamd.sock, "-m", "1m", at, over])
    assert r.stdout.decode() == (f"{at}: OK\n"
                                 f"{over}: ERROR message larger than {limit} bytes, not scanned\n")
    assert r.returncode == 2
    r = scan(["-S", clamd.sock, "-m", "10m", over])
    assert r.stdout.decode() == f"{over}: ERROR clamd: INSTREAM size limit exceeded. ERROR\n"
    assert r.returncode == 2


def test_clamd_stopped(clamd):
    good = write(clamd.dir, "clean.eml", MESSAGE)
    clamd.stop()
    r = scan(["-S", clamd.sock, good])
    out = r.stdout.decode()
    assert out.startswith(f"{good}: ERROR cannot connect to clamd at {clamd.sock}: ")
    assert r.returncode == 2


def test_config_and_errors(clamd):
    """clamd_socket from mailroom.conf; a missing file and a bad option
    are errors (status 2), whatever else was found."""
    conf = os.path.join(clamd.dir, "etc")
    os.mkdir(conf)
    write(conf, "mailroom.conf", f"clamd_socket = {clamd.sock}\n".encode())
    bad = write(clamd.dir, "eicar.txt", EICAR)
    missing = os.path.join(clamd.dir, "missing")
    r = scan(["-c", conf, bad, missing])
    assert r.stdout.decode() == (f"{bad}: {SIGNAME} FOUND\n"
                                 f"{missing}: ERROR cannot open: No such file or directory\n")
    assert r.returncode == 2
    r = scan(["-c", conf, "-m", "lots", bad])
    assert r.returncode == 2 and r.stdout == b""
    assert b"clamd_max_size" in r.stderr
