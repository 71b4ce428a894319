"""test_submit_limits.py - local submission under attack.

A local user controls what mailroom-postdrop reads and can write a file
into maildrop/ without postdrop at all. These tests replay, at a smaller
scale, floods that once got through (empty records past the size limit,
millions of recipients), start the set-gid helpers with a closed standard
descriptor, and plant FIFOs named like queue IDs where pickup and mailq
look. Each test asserts what the user sees (exit status, message),
what the log says, and that nothing was queued.
"""
import os
import subprocess
import time

import pytest

import qrecords
from test_sendmail import maildrop_empty, only_message, poke_pickup, queue_only, need

SIZE_LIMIT = 100000
RCPT_LIMIT = 50


@pytest.fixture
def limited(mailroom):
    need("master", "pickup", "cleanup", "sendmail", "mailroom-postdrop", "mailroom-queue")
    i = mailroom(start=False, extra={"message_size_limit": str(SIZE_LIMIT),
                                     "smtpd_recipient_limit": str(RCPT_LIMIT)})
    queue_only(i)
    i.start()
    return i


def envelope(rcpts=("alice@mailroom.test",)):
    out = qrecords.rec(qrecords.SENDER, "s@example.org")
    for r in rcpts:
        out += qrecords.rec(qrecords.RCPT, r)
    return out + qrecords.rec(qrecords.MESG)


def postdrop(inst, data):
    return inst.run(["mailroom-postdrop"], input=data)


def nothing_queued(inst):
    time.sleep(0.3)
    assert qrecords.files(inst.spool, "maildrop") == []
    assert qrecords.files(inst.spool, "incoming") == []
    assert [n for n in os.listdir(os.path.join(inst.spool, "maildrop"))
            if n.startswith(".")] == []


def test_empty_cont_flood_is_refused_by_postdrop(limited):
    # values add up to nothing, but each record takes 2 bytes in the file:
    # 10x the size limit of them must not become a maildrop file
    flood = envelope() + qrecords.rec(qrecords.CONT) * (5 * SIZE_LIMIT) \
        + qrecords.rec(qrecords.NORM, "x") + qrecords.rec(qrecords.END)
    r = postdrop(limited, flood)
    assert r.returncode == 65, r.stderr
    assert b"message not queued: message too large (message_size_limit = 100000" in r.stderr
    nothing_queued(limited)


def test_message_just_under_the_limit_passes(limited):
    lines = [b"y" * 998] * ((SIZE_LIMIT - 1000) // 1001)
    data = envelope() + b"".join(qrecords.rec(qrecords.NORM, ln) for ln in lines) \
        + qrecords.rec(qrecords.END)
    assert len(data) < SIZE_LIMIT
    r = postdrop(limited, data)
    assert r.returncode == 0, r.stderr
    env, body, _ = only_message(limited)
    assert body.count(b"y" * 998 + b"\n") == len(lines)


def test_recipient_flood_is_refused_by_postdrop(limited):
    rcpts = [f"r{i}@x.test" for i in range(20 * RCPT_LIMIT)]
    r = postdrop(limited, envelope(rcpts) + qrecords.rec(qrecords.END))
    assert r.returncode == 65, r.stderr
    assert b"too many recipients (smtpd_recipient_limit = 50)" in r.stderr
    nothing_queued(limited)
    ok = [f"r{i}@x.test" for i in range(RCPT_LIMIT)]
    r = postdrop(limited, envelope(ok) + qrecords.rec(qrecords.NORM, "hi")
                 + qrecords.rec(qrecords.END))
    assert r.returncode == 0, r.stderr
    env, _, _ = only_message(limited)
    assert len(env["rcpts"]) == RCPT_LIMIT


def plant_maildrop(inst, name, data):
    path = os.path.join(inst.spool, "maildrop", name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o544)           # 0444 and the ready bit, as postdrop leaves it
    return path


@pytest.mark.parametrize("what", ["recipients", "empty records"])
def test_pickup_does_not_trust_a_handmade_maildrop_file(limited, what):
    # written straight into maildrop/, past postdrop's checks
    if what == "recipients":
        rcpts = [f"r{i}@x.test" for i in range(20 * RCPT_LIMIT)]
        data = envelope(rcpts) + qrecords.rec(qrecords.NORM, "x")
        reason = "too many recipients at offset "
    else:
        data = envelope() + qrecords.rec(qrecords.CONT) * (5 * SIZE_LIMIT) \
            + qrecords.rec(qrecords.NORM, "x")
        reason = "message too large (file size)"
    qid = qrecords.fake_qid(1)
    plant_maildrop(limited, qid, data + qrecords.rec(qrecords.END))
    poke_pickup(limited)
    m = limited.wait_log(rf"{qid}: malformed maildrop file \((.*)\) moved to corrupt")
    assert reason in m.group(1)
    if "offset" in reason:
        # reading stopped at the limit, not at the end of the file
        offset = int(m.group(1).rsplit(" ", 1)[1])
        assert offset < (RCPT_LIMIT + 5) * 15
    assert os.path.exists(os.path.join(limited.spool, "corrupt", qid))
    nothing_queued(limited)


def test_closed_stdout_does_not_reach_the_maildrop_file(limited):
    data = envelope() + qrecords.rec(qrecords.NORM, "hello") + qrecords.rec(qrecords.END)
    r = subprocess.run(["sh", "-c", 'exec "$0" >&-', limited.bin("mailroom-postdrop")],
                       input=data, env=limited.env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    env, body, path = only_message(limited)
    assert body.endswith(b"\nhello\n")
    # and mailroom-queue with a closed stdout neither fails nor leaks output
    r = subprocess.run(["sh", "-c", 'exec "$0" -p >&-', limited.bin("mailroom-queue")],
                       env=limited.env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_postdrop_with_closed_stdout_writes_a_clean_file(mailroom):
    # mail system down: the file stays in maildrop/ where we can read it
    need("master", "mailroom-postdrop")
    i = mailroom(start=False)
    queue_only(i)
    i.start()
    i.stop()
    data = envelope() + qrecords.rec(qrecords.NORM, "hello") + qrecords.rec(qrecords.END)
    r = subprocess.run(["sh", "-c", 'exec "$0" >&-', i.bin("mailroom-postdrop")],
                       input=data, env=i.env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    (path,) = qrecords.files(i.spool, "maildrop")
    raw = open(path, "rb").read()
    assert b"queue_id=" not in raw
    assert qrecords.parse(raw)[-1] == (qrecords.END, b"")


def test_fifo_in_maildrop_does_not_block_pickup(limited):
    qid = qrecords.fake_qid(2)
    os.mkfifo(os.path.join(limited.spool, "maildrop", qid), 0o666)
    poke_pickup(limited)
    limited.wait_log(rf"{qid}: malformed maildrop file \(.*not a regular file\) moved to corrupt")
    r = limited.run(["sendmail", "alice@mailroom.test"], input=b"Subject: after\n\nok\n")
    assert r.returncode == 0, r.stderr
    env, body, _ = only_message(limited)
    assert body.endswith(b"\n\nok\n")
    poke_pickup(limited)
    time.sleep(0.5)
    # moved aside once, so it is warned about once, not at every scan
    assert limited.log_text().count(f"{qid}: malformed maildrop file") == 1


def test_fifo_in_a_queue_does_not_block_mailq(limited):
    r = limited.run(["sendmail", "alice@mailroom.test"], input=b"Subject: q\n\nok\n")
    assert r.returncode == 0, r.stderr
    only_message(limited)
    maildrop_empty(limited)
    qid = qrecords.fake_qid(3)
    path = qrecords.hashed_path(limited.spool, "deferred", qid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mkfifo(path, 0o666)
    r = limited.run(["mailroom-queue", "-p"], timeout=20)
    assert r.returncode == 0, r.stderr
    assert "alice@mailroom.test" in r.stdout.decode()
    assert r.stdout.decode().rstrip().endswith("in 1 Request.")
    assert len([ln for ln in r.stderr.decode().splitlines() if qid in ln]) == 1
    assert b"not a regular file" in r.stderr
