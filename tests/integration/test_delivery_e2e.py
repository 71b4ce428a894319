"""test_delivery_e2e.py - mail over SMTP all the way into a Maildir: smtpd,
cleanup, qmgr and the real local delivery agent."""
import os
import re
import smtplib
import time

import qrecords


def maildir_files(inst, user):
    new = os.path.join(inst.mail, "mailroom.test", user, "new")
    return sorted(os.path.join(new, f) for f in os.listdir(new)) if os.path.isdir(new) else []


def wait_for(cond, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_smtp_to_maildir_byte_exact(mailroom):
    inst = mailroom(qmgr=True)
    body = (b"Message-ID: <e2e-1@example.org>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
            b"From: s@example.org\r\nSubject: all the way\r\n\r\nline one\r\n"
            b"..dot-stuffed line\r\n\r\nlast line\r\n")
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("s@example.org", ["alice@mailroom.test", "bob@mailroom.test"], body)
    assert wait_for(lambda: maildir_files(inst, "alice") and maildir_files(inst, "bob")), \
        inst.log_text()[-3000:]
    for user in ("alice", "bob"):
        (path,) = maildir_files(inst, user)
        data = open(path, "rb").read()
        m = re.match(rb"Return-Path: <s@example\.org>\nDelivered-To: " + user.encode()
                     + rb"@mailroom\.test\nReceived: from [^\n]*\n(\t[^\n]*\n)*", data)
        assert m, data[:300]
        # smtplib dot-stuffs the line that starts with "." and smtpd unstuffs
        # it: the Maildir holds the message as given, lines ended by LF
        expected = body.replace(b"\r\n", b"\n")
        assert data[m.end():] == expected
    qid = inst.wait_log(r"([0-9A-Z]{16}): to=<alice@mailroom\.test>, relay=local, .*status=sent")
    inst.wait_log(rf"{qid.group(1)}: removed")
    assert wait_for(lambda: all(qrecords.files(inst.spool, q) == []
                                for q in ("incoming", "active", "deferred")))
