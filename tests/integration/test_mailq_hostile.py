"""test_mailq_hostile.py - mailq (mailroom-queue -p / -j) on planted queue files.

Queue files are written by cleanup, but their envelope values come from
mail, and anyone who can write a queue file can plant any SIZE and TIME.
The listing must neither overflow nor print garbage for times it cannot
show, and must never pass control bytes from mail to the terminal: CR,
ESC sequences and C1 controls are printed escaped (\\xHH), while a
well-formed UTF-8 address (SMTPUTF8) is printed as it is.
"""
import json
import os

import qrecords
from test_sendmail import need

BIG = "9223372036854775807"             # 2^63 - 1


def plant(spool, queue, qid, sender, rcpts, size=None, when="1700000000.000000"):
    out = qrecords.rec(qrecords.SIZE, size) if size is not None else b""
    out += qrecords.rec(qrecords.TIME, when) + qrecords.rec(qrecords.SENDER, sender)
    for r in rcpts:
        out += qrecords.rec(qrecords.RCPT, r)
    out += qrecords.rec(qrecords.MESG) + qrecords.rec(qrecords.NORM, "x") + qrecords.rec(qrecords.END)
    path = qrecords.hashed_path(spool, queue, qid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(out)
    os.chmod(path, 0o700)           # marked ready, as a committed file
    return path


def test_planted_extremes_and_control_bytes(mailroom):
    need("mailroom-queue")
    inst = mailroom(start=False)
    os.makedirs(os.path.join(inst.spool, "incoming"), exist_ok=True)
    evil = "evil\r\x1b[31m@x.test".encode()
    c1 = b"csi\xc2\x9b2J@x.test"
    utf8 = "jöran@exämple.org".encode()
    bad = b"half\xc3@x.test"
    plant(inst.spool, "incoming", qrecords.fake_qid(1), evil, [c1, utf8], size=BIG,
          when=BIG + ".000000")
    plant(inst.spool, "deferred", qrecords.fake_qid(2), b"a\\b@x.test", [bad], size=BIG)
    r = inst.run(["mailroom-queue", "-p"])
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert b"\x1b" not in out and b"\r" not in out and b"\xc2\x9b" not in out
    text = out.decode()                 # well-formed UTF-8 throughout
    assert "evil\\x0d\\x1b[31m@x.test" in text
    assert "csi\\xc2\\x9b2J@x.test" in text
    assert "jöran@exämple.org" in text
    assert "half\\xc3@x.test" in text
    assert "a\\\\b@x.test" in text
    first = [ln for ln in text.splitlines() if ln.startswith(qrecords.fake_qid(1))][0]
    assert f" {BIG} ?  " in first      # a time localtime_r cannot show
    assert text.rstrip().endswith("-- 9007199254740992 Kbytes in 2 Requests.")
    r = inst.run(["mailroom-queue", "-j"])
    assert r.returncode == 0, r.stderr
    rows = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
    assert rows[0]["sender"] == "evil\\x0d\\x1b[31m@x.test"
    assert rows[0]["recipients"][1]["address"] == "jöran@exämple.org"
    assert rows[0]["message_size"] == int(BIG)
