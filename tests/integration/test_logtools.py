"""Administrators' log tools read our log unchanged with syslog_name = postfix:
Debian's pflogsumm (received/delivered/rejected counts), mailgraph's
parser (sent/received/rejected updates) and fail2ban's postfix filter
(the rejected client's address)."""
import os
import re
import smtplib
import subprocess
import time

import pytest

import qrecords
from test_local_e2e import FAST_RETRY, wait_until

MSG = ("From: s@example.org\r\nTo: alice@mailroom.test\r\nSubject: log tools {n}\r\n"
       "\r\nhello {n}\r\n")
SENT = 5


@pytest.fixture
def postfix_named_log(mailroom):
    """An instance tagged postfix/..., five messages delivered and one
    recipient rejected; returns the instance once the queue is empty."""
    inst = mailroom(extra=dict(FAST_RETRY, syslog_name="postfix"), qmgr=True)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        for n in range(SENT):
            s.sendmail("s@example.org", ["alice@mailroom.test"], MSG.format(n=n))
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example.org")
        s.mail("s@example.org")
        code, _ = s.rcpt("nobody-here@mailroom.test")
        assert code >= 500
    assert wait_until(lambda: qrecords.queues_empty(inst.spool))
    assert wait_until(lambda: inst.log_text().count("status=sent") >= SENT)
    time.sleep(0.2)
    return inst


def test_pflogsumm_counts(postfix_named_log):
    log = postfix_named_log.logfile
    r = subprocess.run(["pflogsumm", "--problems_first", log], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    totals = r.stdout
    assert re.search(rf"^\s*{SENT}\s+received\b", totals, re.M), totals[:1500]
    assert re.search(rf"^\s*{SENT}\s+delivered\b", totals, re.M), totals[:1500]
    assert re.search(r"^\s*1\s+rejected\b", totals, re.M), totals[:1500]
    assert "s@example.org" in totals         # the senders table


def shifted(line, seconds):
    """A syslog line with its time stamp moved by seconds."""
    stamp = time.strptime(time.strftime("%Y ") + line[:15], "%Y %b %d %H:%M:%S")
    return time.strftime("%b %e %H:%M:%S", time.localtime(time.mktime(stamp) + seconds)) + line[15:]


def test_mailgraph_parser_counts(postfix_named_log, tmp_path):
    # mailgraph reports a minute's counts once an event of a later minute
    # arrives: feed it our log, then the same log ten minutes later, and
    # add up the updates of the first copy
    lines = open(postfix_named_log.logfile).read().splitlines()
    log = tmp_path / "mail.log"
    log.write_text("\n".join(lines + [shifted(ln, 600) for ln in lines]) + "\n")
    first = time.mktime(time.strptime(time.strftime("%Y ") + lines[0][:15], "%Y %b %d %H:%M:%S"))
    r = subprocess.run(["mailgraph", "--cat", "--logfile", str(log), "--verbose",
                        "--daemon-rrd", str(tmp_path), "--rrd-name", "mailroom"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # "update MINUTE:SENT:RECEIVED:BOUNCED:REJECTED:..."
    updates = [tuple(int(x) for x in u) for u in
               re.findall(r"update (\d+):(\d+):(\d+):(\d+):(\d+)", r.stdout)]
    firsts = [u for u in updates if u[0] < first + 540]
    assert firsts, r.stdout + r.stderr
    # mailgraph counts "sent" for relayed mail only (postfix/smtp); local
    # deliveries are not sent in its sense
    totals = tuple(sum(u[i] for u in firsts) for i in (1, 2, 4))
    assert totals == (0, SENT, 1), r.stdout


def test_fail2ban_postfix_filter_matches(postfix_named_log):
    log = postfix_named_log.logfile
    r = subprocess.run(["fail2ban-regex", "--print-all-matched", log,
                        "/etc/fail2ban/filter.d/postfix.conf"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    m = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", r.stdout)
    assert m and int(m.group(1)) == 1, r.stdout[-2000:]
    assert "127.0.0.1" in r.stdout
