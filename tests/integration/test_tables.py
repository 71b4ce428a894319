"""test_tables.py - mailroom-map from the command line, and proxy: lookups
through a running instance's tabled."""
import os
import subprocess
import time

import pytest

from conftest import BIN

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
    try:
        inst.start()
    except RuntimeError as e:
        pytest.skip(f"the instance could not start, so tabled cannot be reached: {e}")

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
