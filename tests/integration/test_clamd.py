"""test_clamd.py - mailroom-scan (the clamd client of the content filter)
against a real clamd.

Each test starts Debian's clamd (clamdtest.py) with a one-signature
database made by the test and a StreamMaxLength of 1 MiB. A file goes to
clamd as its descriptor (FILDES) over the Unix socket, streamed (INSTREAM)
with -i, from a pipe and over TCP; clamd's log tells which way it came
("instream(...)" for a stream, the file's name for a descriptor).
"""
import base64
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from clamdtest import EICAR, MESSAGE, SIGNAME, Clamd, FildesRefuser
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
    """mailroom-scan; stdin is bytes (a pipe) or an open file"""
    piped = stdin is None or isinstance(stdin, bytes)
    return subprocess.run([os.path.join(BIN, "mailroom-scan"), *args],
                          input=stdin if piped else None, stdin=None if piped else stdin,
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
    r = scan(["-S", clamd.sock, "-m", "10m", "-i", over])
    assert r.stdout.decode() == f"{over}: ERROR clamd: INSTREAM size limit exceeded. ERROR\n"
    assert r.returncode == 2
    # a passed descriptor is not a stream: StreamMaxLength does not apply
    r = scan(["-S", clamd.sock, "-m", "10m", over])
    assert (r.stdout.decode(), r.returncode) == (f"{over}: OK\n", 0)


def found_lines(clamd, count):
    """clamd's log lines of its finds, once there are count of them (clamd
    may write a line just after its reply)"""
    deadline = time.time() + 10
    while True:
        lines = [line for line in clamd.log().splitlines() if line.endswith(f"{SIGNAME} FOUND")]
        if len(lines) >= count or time.time() > deadline:
            return lines
        time.sleep(0.05)


def test_descriptor_or_stream(clamd):
    """The same verdicts whichever way the file goes; clamd's log shows the
    way: the file's own name for a passed descriptor, instream(local) for
    -i and for a pipe."""
    bad = write(clamd.dir, "eicar.eml", MESSAGE + EICAR + b"\r\n")
    good = write(clamd.dir, "clean.eml", MESSAGE)
    for opts in ([], ["-i"]):
        r = scan(["-S", clamd.sock, *opts, good, bad])
        assert r.stdout.decode() == f"{good}: OK\n{bad}: {SIGNAME} FOUND\n"
        assert r.returncode == 1
    with open(bad, "rb") as f:   # standard input that is a file: its descriptor
        r = scan(["-S", clamd.sock], stdin=f)
    assert r.stdout.decode() == f"-: {SIGNAME} FOUND\n"
    r = scan(["-S", clamd.sock], stdin=MESSAGE + EICAR)   # a pipe: streamed
    assert r.stdout.decode() == f"-: {SIGNAME} FOUND\n"
    assert found_lines(clamd, 4) == [f"{bad}: {SIGNAME} FOUND", f"instream(local): {SIGNAME} FOUND",
                                  f"{bad}: {SIGNAME} FOUND", f"instream(local): {SIGNAME} FOUND"]
    conf = os.path.join(clamd.dir, "etc")   # clamd_pass_descriptor = no streams
    os.mkdir(conf)
    write(conf, "mailroom.conf", b"clamd_pass_descriptor = no\n")
    r = scan(["-c", conf, "-S", clamd.sock, bad])
    assert r.stdout.decode() == f"{bad}: {SIGNAME} FOUND\n"
    assert found_lines(clamd, 5)[-1] == f"instream(local): {SIGNAME} FOUND"


def test_tcp_clamd():
    """clamd on TCP (host:port): files are streamed, a descriptor cannot go
    there; a port nobody listens on is an error naming the address."""
    d = tempfile.mkdtemp(prefix="mailroom-clamd-", dir="/tmp")
    c = Clamd(d, tcp=True)
    try:
        c.start()
        bad = write(d, "eicar.eml", MESSAGE + EICAR + b"\r\n")
        good = write(d, "clean.eml", MESSAGE)
        r = scan(["-S", c.tcp_addr, good, bad])
        assert r.stdout.decode() == f"{good}: OK\n{bad}: {SIGNAME} FOUND\n"
        assert found_lines(c, 1)[-1].startswith("instream(127.0.0.1@")
        c.stop()
        r = scan(["-S", c.tcp_addr, good])
        assert r.stdout.decode().startswith(f"{good}: ERROR cannot connect to clamd at "
                                            f"{c.tcp_addr}: ")
        assert r.returncode == 2
    finally:
        c.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_descriptor_refused_falls_back(clamd):
    """A clamd that answers FILDES with no verdict (a stand-in in front of
    the real one, FildesRefuser): the file is streamed instead and the
    verdict is right; the process streams every later file without trying
    the descriptor again, and says so once on stderr."""
    refuser = FildesRefuser(clamd, clamd.dir)
    try:
        bad = write(clamd.dir, "eicar.eml", MESSAGE + EICAR + b"\r\n")
        good = write(clamd.dir, "clean.eml", MESSAGE)
        r = scan(["-S", refuser.sock, bad, good, bad])
        assert r.stdout.decode() == f"{bad}: {SIGNAME} FOUND\n{good}: OK\n{bad}: {SIGNAME} FOUND\n"
        assert refuser.commands == ["zFILDES", "zINSTREAM", "zINSTREAM", "zINSTREAM"]
        err = r.stderr.decode()
        assert err.count("cannot scan a passed file descriptor") == 1, err
        assert (f"clamd at {refuser.sock} cannot scan a passed file descriptor "
                "(unexpected reply from clamd: UNKNOWN COMMAND): streaming instead") in err
    finally:
        refuser.close()


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


def test_temporary_files_on_tmpfs(clamd):
    """clamd's temporary files (a folder per scan, the MIME parts it
    decodes) go to a folder of its own on /dev/shm, a tmpfs: clamd
    creates and removes them there for every message, cheaply. The
    folder is empty between scans and gone once clamd has stopped."""
    conf = open(os.path.join(clamd.dir, "clamd.conf")).read()
    tmp = [line.split(None, 1)[1] for line in conf.splitlines()
           if line.startswith("TemporaryDirectory ")][0]
    assert os.path.dirname(tmp) == "/dev/shm"
    assert os.path.basename(tmp).startswith("mailroom-clamd-")
    attached = MESSAGE.replace(b"\r\n\r\n", b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/"
                               b"mixed; boundary=b\r\n\r\n") + \
        b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/" \
        b"octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + \
        base64.encodebytes(EICAR) + b"--b--\r\n"
    bad = write(clamd.dir, "attached.eml", attached)
    r = scan(["-S", clamd.sock, bad])
    assert r.stdout.decode() == f"{bad}: {SIGNAME} FOUND\n"
    assert os.listdir(tmp) == []
    clamd.stop()
    assert not os.path.exists(tmp)
