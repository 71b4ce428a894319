"""test_bcc.py - blind copies added by cleanup: always_bcc, sender_bcc_maps,
recipient_bcc_maps. The instance runs without qmgr, so the queue file stays
in incoming/ where the test reads its envelope."""
import smtplib
import time

import qrecords


def envelope_of_only_file(inst):
    deadline = time.time() + 15
    while time.time() < deadline:
        files = qrecords.files(inst.spool, "incoming")
        if files:
            break
        time.sleep(0.05)
    (path,) = files
    recs = qrecords.parse(open(path, "rb").read())
    rcpts, notify = [], {}
    last = None
    for t, v in recs:
        if t == qrecords.MESG:
            break
        if t == qrecords.RCPT:
            last = v.decode()
            rcpts.append(last)
        elif t == qrecords.NOTIFY:
            notify[last] = v.decode()
    return rcpts, notify


def test_bcc_copies_with_notify_never(mailroom):
    inst = mailroom(extra={
        "always_bcc": "archive@x.example",
        "sender_bcc_maps": "inline:{s@example.org=sent-copy@x.example}",
        "recipient_bcc_maps": "inline:{alice@mailroom.test=alice-copy@x.example}",
    })
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("s@example.org", ["alice@mailroom.test", "bob@mailroom.test"],
                   "Subject: bcc\r\n\r\nx\r\n")
    rcpts, notify = envelope_of_only_file(inst)
    assert rcpts == ["alice@mailroom.test", "bob@mailroom.test", "archive@x.example",
                     "sent-copy@x.example", "alice-copy@x.example"]
    for copy in rcpts[2:]:
        assert notify[copy] == "NEVER"
    assert "alice@mailroom.test" not in notify


def test_no_bcc_without_settings_and_no_duplicate(mailroom):
    inst = mailroom(extra={"always_bcc": "bob@mailroom.test"})
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("s@example.org", ["bob@mailroom.test"], "Subject: bcc\r\n\r\nx\r\n")
    rcpts, _ = envelope_of_only_file(inst)
    assert rcpts == ["bob@mailroom.test"]
