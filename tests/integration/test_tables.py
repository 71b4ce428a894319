"""test_tables.py - mailroom-map from the command line, and proxy: lookups
through a running instance's tabled."""
import os
import socket
import subprocess
import time

import pytest

from conftest import BIN
from test_master import children

TYPES = ("cdb", "hash", "btree")


def run_map(*args, env=None, stdin=None):
    e = dict(os.environ, MAILROOM_CONFIG_DIR="/nonexistent")
    e.update(env or {})
    return subprocess.run([os.path.join(BIN, "mailroom-map")] + list(args),
                          capture_output=True, text=True, env=e, input=stdin, timeout=60)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


SOURCE = ("# test table\n"
          "Alice@Example.COM  alice@mailbox.test\n"
          "list@example.com   one@x.test,\n"
          "                   two@x.test\n")


@pytest.mark.parametrize("kind", TYPES)
def test_build_and_query(tmp_path, kind):
    src = write(tmp_path / "virtual", SOURCE)
    r = run_map(f"{kind}:{src}")
    assert r.returncode == 0, r.stderr
    suffix = ".cdb" if kind == "cdb" else ".db"
    assert os.path.exists(src + suffix)
    r = run_map("-q", "ALICE@example.com", f"{kind}:{src}")
    assert (r.returncode, r.stdout) == (0, "alice@mailbox.test\n")
    r = run_map("-q", "list@example.com", f"{kind}:{src}")
    assert (r.returncode, r.stdout) == (0, "one@x.test, two@x.test\n")
    r = run_map("-q", "nobody@example.com", f"{kind}:{src}")
    assert (r.returncode, r.stdout) == (1, "")


def test_query_text_types_and_stdin(tmp_path):
    src = write(tmp_path / "virtual", SOURCE)
    r = run_map("-q", "alice@example.com", f"texthash:{src}")
    assert (r.returncode, r.stdout) == (0, "alice@mailbox.test\n")
    r = run_map("-q", "b", "inline:{a=1, b = two words}")
    assert (r.returncode, r.stdout) == (0, "two words\n")
    rx = write(tmp_path / "rx", "/^(.+)@old\\.test$/  $1@new.test\n")
    r = run_map("-q", "Joe@OLD.test", f"pcre:{rx}")
    assert (r.returncode, r.stdout) == (0, "Joe@new.test\n")
    run_map(f"cdb:{src}")
    r = run_map("-q", "-", f"cdb:{src}", stdin="alice@example.com\nnone\nlist@example.com\n")
    assert r.returncode == 0
    assert r.stdout == ("alice@example.com\talice@mailbox.test\n"
                        "list@example.com\tone@x.test, two@x.test\n")


def test_aliases_mode(tmp_path):
    src = write(tmp_path / "aliases", "postmaster: root\nabuse:postmaster, alice\n")
    r = run_map("-a", f"hash:{src}")
    assert r.returncode == 0, r.stderr
    r = run_map("-q", "abuse", f"hash:{src}")
    assert (r.returncode, r.stdout) == (0, "postmaster, alice\n")


def test_atomic_rebuild_and_errors(tmp_path):
    src = write(tmp_path / "map", "key old-value\n")
    assert run_map(f"cdb:{src}").returncode == 0
    ino = os.stat(src + ".cdb").st_ino

    # a bad line: exit 2, file:line named, the old table still answers
    write(src, "key new-value\n# comment\nlonely-key\n")
    r = run_map(f"cdb:{src}")
    assert r.returncode == 2
    assert f"{src}:3: expected \"key whitespace value\"" in r.stderr
    assert run_map("-q", "key", f"cdb:{src}").stdout == "old-value\n"
    assert os.stat(src + ".cdb").st_ino == ino
    assert sorted(os.listdir(tmp_path)) == ["map", "map.cdb"]

    # a good rebuild replaces the file by rename (a new inode)
    write(src, "key new-value\n")
    assert run_map(f"cdb:{src}").returncode == 0
    assert os.stat(src + ".cdb").st_ino != ino
    assert run_map("-q", "key", f"cdb:{src}").stdout == "new-value\n"
    assert sorted(os.listdir(tmp_path)) == ["map", "map.cdb"]


def test_missing_and_corrupt_are_errors(tmp_path):
    r = run_map("-q", "x", f"cdb:{tmp_path}/none")
    assert r.returncode == 2
    assert f"{tmp_path}/none.cdb" in r.stderr
    r = run_map(f"hash:{tmp_path}/none")
    assert r.returncode == 2 and f"{tmp_path}/none" in r.stderr
    with open(tmp_path / "junk.db", "wb") as f:
        f.write(b"\xff" * 8192)
    r = run_map("-q", "x", f"hash:{tmp_path}/junk")
    assert r.returncode == 2
    assert f"{tmp_path}/junk.db" in r.stderr
    r = run_map("-q", "x", "nosuch:thing")
    assert r.returncode == 2 and "unsupported table type" in r.stderr


def test_proxy_through_tabled(mailroom):
    inst = mailroom(start=False)
    etc = inst.conf_dir
    src = write(os.path.join(etc, "virtual"), SOURCE)
    for kind in ("cdb", "hash"):
        subprocess.run([inst.bin("mailroom-map"), f"{kind}:{src}"], check=True)
    rx = write(os.path.join(etc, "rx"), "/^(.+)@old\\.test$/  $1@new.test\n")
    inst.set_conf(proxy_read_maps=f"proxy:cdb:{src} proxy:hash:{src} proxy:regexp:{rx}")
    inst.start()

    def q(key, spec):
        return inst.run(["mailroom-map", "-c", etc, "-q", key, spec], text=True)

    for kind in ("cdb", "hash"):
        r = q("Alice@example.com", f"proxy:{kind}:{src}")
        assert (r.returncode, r.stdout) == (0, "alice@mailbox.test\n"), r.stderr
        r = q("nobody@example.com", f"proxy:{kind}:{src}")
        assert (r.returncode, r.stdout) == (1, "")
    r = q("Joe@old.test", f"proxy:regexp:{rx}")
    assert (r.returncode, r.stdout) == (0, "Joe@new.test\n")

    # many lookups over one connection
    keys = "".join(f"k{i}\nalice@example.com\n" for i in range(200))
    r = inst.run(["mailroom-map", "-c", etc, "-q", "-", f"proxy:cdb:{src}"], input=keys, text=True)
    assert r.returncode == 0
    assert r.stdout == "alice@example.com\talice@mailbox.test\n" * 200

    # a table that is not in proxy_read_maps is refused, and logged
    r = q("root", "proxy:texthash:/etc/passwd")
    assert r.returncode == 2
    assert "texthash:/etc/passwd is not in proxy_read_maps" in r.stderr
    inst.wait_log(r"tabled\[\d+\]: warning: request for table texthash:/etc/passwd, "
                  r"which is not in proxy_read_maps")

    # a rebuilt table is picked up by the running tabled
    write(src, "alice@example.com  moved@mailbox.test\n")
    subprocess.run([inst.bin("mailroom-map"), f"cdb:{src}"], check=True)
    deadline = time.time() + 10
    while True:
        r = q("alice@example.com", f"proxy:cdb:{src}")
        if r.stdout == "moved@mailbox.test\n" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.stdout == "moved@mailbox.test\n", r.stderr


def test_tabled_serves_many_clients_in_one_process(mailroom):
    """One tabled process answers every client; a half-sent request from
    one client holds up no other; pipelined requests get their replies in
    order; a malformed request ends that client only, logged."""
    spec = "inline:{a=1, b=two}"
    inst = mailroom(start=False)
    inst.set_conf(proxy_read_maps=f"proxy:{spec}")
    inst.start()
    path = os.path.join(inst.spool, "private", "tabled")
    clients = []
    for _ in range(3):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(path)
        f = s.makefile("rb")
        assert f.readline() + f.readline() == b"protocol=tabled\n\n"
        clients.append((s, f))
    req = f"request=lookup\ntable={spec}\nkey=%s\n\n"
    (s1, f1), (s2, f2), (s3, f3) = clients
    s1.sendall((req % "a")[:20].encode())
    s2.sendall(((req % "A") + (req % "b") + (req % "zz")).encode())
    assert [f2.readline() for _ in range(7)] == [
        b"status=0\n", b"value=1\n", b"\n", b"status=0\n", b"value=two\n", b"\n",
        b"status=1\n"]
    s1.sendall((req % "a")[20:].encode())
    assert f1.readline() + f1.readline() == b"status=0\nvalue=1\n"
    s3.sendall(b"request lookup\n\n")
    assert f3.read() == b""
    inst.wait_log(r"tabled\[\d+\]: warning: client local: "
                  r"malformed attribute \"request lookup\"")
    s2.sendall((req % "b").encode())
    assert f2.readline() + f2.readline() + f2.readline() == b"\nstatus=0\nvalue=two\n"
    tableds = [p for p, c in children(inst.proc.pid).items() if "tabled" in c]
    assert len(tableds) == 1
    for s, f in clients:
        f.close()
        s.close()
