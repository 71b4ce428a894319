"""test_queue_cat.py - mailroom-queue -m: one queue file shown, envelope and
content (-e envelope only, -b body only), found by queue ID in any queue or
given as a path; a corrupt file refused; only for those who may read the
queue, and read as mail_owner.

Messages are queued the normal way (sendmail -> pickup -> cleanup ->
incoming/) on an instance without qmgr, so they stay where the test puts
them.
"""
import os
import re
import shutil
import subprocess

import qrecords
from conftest import IS_ROOT
from test_queue_tool import queue, settled
from test_sendmail import inst, sendmail  # noqa: F401  (fixture)

HEAD = "Subject: cat me\nX-Test: 1\n"
BODY = "first body line\n\nlast body line\n"
TEXT = HEAD + "\n" + BODY
END = "\n" + BODY + "*** END OF MESSAGE ***\n"   # after the headers cleanup adds


def one_message(inst):
    r = sendmail(inst, ["-f", "s@example.org", "-N", "success,delay", "alice@mailroom.test",
                        "bob@mailroom.test"], TEXT)
    assert r.returncode == 0, r.stderr
    path = settled(inst, 1)[0]
    return os.path.basename(path), path


def mark_done(path, address):
    """Rewrite the type byte of address's RCPT record to DONE, as a
    delivery agent does."""
    data = open(path, "rb").read()
    rec = qrecords.rec(qrecords.RCPT, address)
    at = data.index(rec)
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(qrecords.DONE)


def test_show_whole_file(inst):
    qid, path = one_message(inst)
    mark_done(path, "alice@mailroom.test")
    r = queue(inst, "-m", qid)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    lines = out.splitlines()
    assert lines[0] == f"*** ENVELOPE RECORDS incoming/{qid} ***"
    assert re.match(r"^arrival_time: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} "
                    r"\(\d+\.\d{6}\)$", lines[1]), lines[1]
    assert [l for l in lines if re.match(r"^message_size: \d+$", l)], out
    assert "sender: s@example.org" in lines
    assert "recipient: alice@mailroom.test (done) notify=SUCCESS,DELAY" in lines
    assert "recipient: bob@mailroom.test (pending) notify=SUCCESS,DELAY" in lines
    assert [l for l in lines if l.startswith("attribute: ")], out
    body = out.split("*** MESSAGE CONTENTS ***\n", 1)[1]
    assert body.startswith(HEAD) and body.endswith(END), body
    assert re.search(r"^Message-ID: <", body, re.M), body


def test_envelope_only_and_body_only(inst):
    qid, _ = one_message(inst)
    env = queue(inst, "-e", "-m", qid)
    assert env.returncode == 0, env.stderr
    assert env.stdout.decode().startswith(f"*** ENVELOPE RECORDS incoming/{qid} ***\n")
    assert b"MESSAGE CONTENTS" not in env.stdout and b"body line" not in env.stdout
    body = queue(inst, "-b", "-m", qid)
    assert body.returncode == 0, body.stderr
    assert body.stdout == BODY.encode()
    assert queue(inst, "-e", "-b", "-m", qid).returncode == 64
    assert queue(inst, "-e", "-p").returncode == 64


def test_any_queue(inst):
    qid, _ = one_message(inst)
    for op, where in (("-h", "hold"), ("-H", "deferred")):
        assert queue(inst, op, qid).returncode == 0
        r = queue(inst, "-e", "-m", qid)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().startswith(f"*** ENVELOPE RECORDS {where}/{qid} ***\n")
    # active/, where qmgr keeps what it is delivering
    src = qrecords.files(inst.spool, "deferred")[0]
    dest = os.path.join(inst.spool, "active", os.path.relpath(src, os.path.join(inst.spool,
                                                                             "deferred")))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.move(src, dest)
    r = queue(inst, "-e", "-m", qid)
    assert r.stdout.decode().startswith(f"*** ENVELOPE RECORDS active/{qid} ***\n"), r.stderr


def test_file_path(inst):
    qid, path = one_message(inst)
    copy = os.path.join(inst.dir, "saved-" + qid)
    shutil.copy2(path, copy)
    if IS_ROOT:
        # read as mail_owner: a file only root may read is refused ...
        os.chown(copy, 0, 0)
        os.chmod(copy, 0o700)
        r = queue(inst, "-m", copy)
        assert r.returncode == 74, r.stderr
        assert f"mailroom-queue: {copy}: ".encode() in r.stderr
        assert b"Permission denied" in r.stderr and r.stdout == b""
        # ... one mail_owner may read is shown
        shutil.chown(copy, "mailroom")
    r = queue(inst, "-m", copy)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith(f"*** ENVELOPE RECORDS {copy} ***\n")
    assert r.stdout.decode().endswith(END)
    # a file not marked finished (no owner execute bit) is not a queue file yet
    os.chmod(copy, 0o600)
    r = queue(inst, "-m", copy)
    assert r.returncode == 66 and b"not finished" in r.stderr, r.stderr


def test_corrupt_file_is_refused(inst):
    qid, path = one_message(inst)
    data = open(path, "rb").read()
    for bad in (data[:len(data) // 2],               # truncated
                data[:-2] + b"Z\x00",                  # unknown record type at the end
                data.replace(qrecords.rec(qrecords.NORM, "X-Test: 1"),
                             b"L\x7fX-Test: 1", 1),   # a length past END
                data + b"E\x00"):                      # bytes after END
        with open(path, "wb") as f:
            f.write(bad)
        r = queue(inst, "-m", qid)
        assert r.returncode == 65, (bad[-20:], r.returncode, r.stderr)
        assert re.match(rf"^mailroom-queue: incoming/{qid}: corrupt queue file: \S".encode(),
                        r.stderr), r.stderr
        assert r.stdout == b""


def test_missing_and_bad_names(inst):
    r = queue(inst, "-m", qrecords.fake_qid(7))
    assert r.returncode == 66
    assert r.stderr == f"mailroom-queue: {qrecords.fake_qid(7)}: no such queue file\n".encode()
    r = queue(inst, "-m", "..")
    assert r.returncode == 64 and b"not a queue ID" in r.stderr
    r = queue(inst, "-m", os.path.join(inst.dir, "nosuch"))
    assert r.returncode == 66


def test_ordinary_user_is_refused(inst):
    qid, _ = one_message(inst)
    if not IS_ROOT:
        return
    for group in ("nogroup", "mailroom-drop"):
        r = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", group, "--clear-groups",
                            inst.bin("mailroom-queue"), "-m", qid],
                           env=inst.env, capture_output=True, timeout=30)
        assert r.returncode == 77, r.stderr
        assert b"permission denied" in r.stderr and r.stdout == b""
