"""test_queue_tool.py - mailroom-queue: listing and changing the queue.

Messages are put into the queue the normal way (sendmail -> pickup ->
cleanup -> incoming/) on an instance without qmgr, so they stay where the
test puts them.
"""
import json
import os
import re
import shutil
import subprocess

import pytest

import qrecords
from conftest import IS_ROOT
from test_sendmail import inst, sendmail, wait_files  # noqa: F401  (fixture)

ID = r"[0-9A-Z]{16}"
DATE = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d"


def queue(inst, *args, **kw):
    return inst.run(["mailroom-queue"] + list(args), **kw)


def two_messages(inst):
    for rcpts in (["alice@mailroom.test"], ["bob@mailroom.test", "carol@example.net"]):
        r = sendmail(inst, ["-f", "s@example.org"] + rcpts, "Subject: q\n\nbody\n")
        assert r.returncode == 0, r.stderr
    paths = wait_files(inst, "incoming", 2)
    return {os.path.basename(p): p for p in paths}


def test_empty_queue(inst):
    r = queue(inst, "-p")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mail queue is empty\n"
    r = queue(inst, "-j")
    assert r.returncode == 0 and r.stdout == b""


def test_p_layout(inst):
    ids = two_messages(inst)
    r = queue(inst, "-p")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert re.match(r"^-Queue ID- +--Size-- +---Arrival Time---- +-Sender/Recipient-------$",
                    lines[0])
    heads = [ln for ln in lines if re.match(ID, ln)]
    assert len(heads) == 2
    for ln in heads:
        assert re.match(rf"^({ID})  +\d+ {DATE}  s@example\.org$", ln), ln
        assert ln[:16] in ids
    rcpt_lines = [ln.strip() for ln in lines if ln.startswith(" " * 40)]
    assert sorted(rcpt_lines) == ["alice@mailroom.test", "bob@mailroom.test",
                                  "carol@example.net"]
    assert re.match(r"^-- \d+ Kbytes in 2 Requests\.$", lines[-1])


def test_markers_and_defer_reason(inst):
    ids = two_messages(inst)
    first, second = sorted(ids)
    # the second message as qmgr leaves it after a failed try: in deferred/
    # with a reason in its defer log
    rel = os.path.relpath(ids[second], os.path.join(inst.spool, "incoming"))
    for q in ("deferred", "defer"):
        os.makedirs(os.path.dirname(os.path.join(inst.spool, q, rel)), exist_ok=True)
    shutil.move(ids[second], os.path.join(inst.spool, "deferred", rel))
    with open(os.path.join(inst.spool, "defer", rel), "w") as f:
        f.write("rcpt=carol@example.net\nreason=connect to mx.example.net: Connection refused\n\n")
    r = queue(inst, "-h", first)
    assert r.returncode == 0, r.stderr
    out = queue(inst, "-p").stdout.decode()
    assert re.search(rf"^{first}!", out, re.M)
    assert re.search(rf"^{second} ", out, re.M)
    assert re.search(r"^ +\(connect to mx\.example\.net: Connection refused\)\n +carol@example\.net$",
                     out, re.M)
    objs = [json.loads(ln) for ln in queue(inst, "-j").stdout.decode().splitlines()]
    by_id = {o["queue_id"]: o for o in objs}
    assert by_id[first]["queue_name"] == "hold"
    assert by_id[second]["queue_name"] == "deferred"
    assert set(by_id[second]) >= {"queue_name", "queue_id", "arrival_time", "message_size",
                                  "sender", "recipients"}
    assert by_id[second]["sender"] == "s@example.org"
    assert isinstance(by_id[second]["arrival_time"], int)
    assert by_id[second]["message_size"] > 0
    rc = {x["address"]: x for x in by_id[second]["recipients"]}
    assert rc["carol@example.net"]["delay_reason"] == \
        "connect to mx.example.net: Connection refused"
    assert "delay_reason" not in rc["bob@mailroom.test"]


def test_active_marker(inst):
    ids = two_messages(inst)
    one = sorted(ids)[0]
    rel = os.path.relpath(ids[one], os.path.join(inst.spool, "incoming"))
    dest = os.path.join(inst.spool, "active", rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.move(ids[one], dest)
    out = queue(inst, "-p").stdout.decode()
    assert re.search(rf"^{one}\*", out, re.M)


def test_hold_release_requeue_delete(inst):
    ids = two_messages(inst)
    a, b = sorted(ids)
    r = queue(inst, "-h", "ALL")
    assert r.returncode == 0, r.stderr
    assert len(qrecords.files(inst.spool, "hold")) == 2
    assert qrecords.files(inst.spool, "incoming") == []
    inst.wait_log(rf"mailroom-queue\[\d+\]: {a}: placed on hold")
    r = queue(inst, "-H", a)
    assert r.returncode == 0, r.stderr
    assert [os.path.basename(p) for p in qrecords.files(inst.spool, "deferred")] == [a]
    inst.wait_log(rf"{a}: released from hold")
    r = queue(inst, "-r", "-", input=f"{a}\n{b}\n".encode())
    assert r.returncode == 0, r.stderr
    assert sorted(os.path.basename(p) for p in qrecords.files(inst.spool, "incoming")) == [a, b]
    assert qrecords.files(inst.spool, "hold") == []
    inst.wait_log(rf"{b}: requeued")
    r = queue(inst, "-d", a)
    assert r.returncode == 0, r.stderr
    assert b"Deleted: 1 message" in r.stderr
    assert [os.path.basename(p) for p in qrecords.files(inst.spool, "incoming")] == [b]
    inst.wait_log(rf"mailroom-queue\[\d+\]: {a}: removed")
    r = queue(inst, "-d", "ALL")
    assert r.returncode == 0
    assert queue(inst, "-p").stdout == b"Mail queue is empty\n"


def test_bad_ids_and_usage(inst):
    r = queue(inst, "-d", "../../etc/passwd")
    assert r.returncode != 0
    assert b"not a queue ID" in r.stderr
    assert queue(inst).returncode == 64
    assert queue(inst, "-p", "-f").returncode == 64


def test_corrupt_file_is_reported(inst):
    ids = two_messages(inst)
    victim = sorted(ids)[0]
    with open(ids[victim], "r+b") as f:
        f.truncate(20)
    r = queue(inst, "-p")
    assert r.returncode == 0
    assert re.search(rf"{victim}: .*corrupt queue file".encode(), r.stderr)
    assert r.stdout.decode().rstrip().endswith("in 1 Request.")


def test_flush_when_down(mailroom):
    i = mailroom(start=False)
    r = i.run(["mailroom-queue", "-f"])
    assert r.returncode == 69
    assert b"mail system is down" in r.stderr
    r = i.run(["sendmail", "-q"])
    assert r.returncode == 69


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run a command as another user")
def test_non_admin_is_refused(inst):
    ids = two_messages(inst)
    for op in ("-d", "-h", "-H", "-r"):
        r = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup",
                            "--clear-groups", inst.bin("mailroom-queue"), op, "ALL"],
                           env=inst.env, capture_output=True, timeout=30)
        assert r.returncode == 77, r.stderr
        assert b"permission denied" in r.stderr
    assert sorted(os.path.basename(p) for p in qrecords.files(inst.spool, "incoming")) \
        == sorted(ids)
