"""test_local_e2e.py - mail from SMTP to the mailbox: smtpd -> cleanup ->
qmgr -> local, in an instance made like `make run` makes its own.

What a user sees: the bytes in the demo users' Maildirs, the log lines,
an empty queue afterwards, and no message lost or delivered twice when
local is killed with SIGKILL in the middle of a delivery.
"""
import os
import pwd
import re
import shutil
import signal
import smtplib
import subprocess
import time

import pytest

import qrecords
from conftest import IS_ROOT, wait_port
from test_local import ID, local_pids, maildir_files

FAST_RETRY = {"queue_run_delay": "1s", "minimal_backoff_time": "1s",
              "maximal_backoff_time": "2s"}
MESSAGE = ("From: s@example.org\r\nTo: alice@mailroom.test\r\nSubject: hello\r\n"
           "Message-ID: <e2e@example.org>\r\nDate: Fri, 27 Nov 2026 14:00:00 +0000\r\n"
           "\r\nbody line\r\n..leading dot\r\nFrom the body\r\n")


def send(inst, rcpts, body=MESSAGE, sender="s@example.org"):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail(sender, rcpts, body)


def wait_until(cond, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def split_received(data, prefix):
    """data = prefix + smtpd's Received: field (folded) + rest; returns rest."""
    assert data.startswith(prefix), data[:200]
    lines = data[len(prefix):].split(b"\n")
    assert lines[0].startswith(b"Received: from "), lines[0]
    i = 1
    while lines[i][:1] in (b" ", b"\t"):
        i += 1
    return b"\n".join(lines[i:])


def test_smtp_to_demo_maildirs(mailroom):
    inst = mailroom(extra=FAST_RETRY, qmgr=True)
    send(inst, ["alice@mailroom.test", "bob+notes@mailroom.test", "postmaster@localhost"])
    for rcpt in ("alice@mailroom.test", "bob+notes@mailroom.test", "postmaster@localhost"):
        inst.wait_log(rf"{ID}: to=<{re.escape(rcpt)}>, relay=local, delay=[\d.]+, "
                      r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                      r"status=sent \(delivered to maildir\)", timeout=30)
    alice = maildir_files(os.path.join(inst.mail, "mailroom.test", "alice"))
    bob = maildir_files(os.path.join(inst.mail, "mailroom.test", "bob"))
    assert len(alice) == 2 and len(bob) == 1
    want = MESSAGE.replace("\r\n", "\n").encode()
    texts = sorted(open(f, "rb").read() for f in alice)
    tos = sorted(t.split(b"\n")[1] for t in texts)
    assert tos == [b"Delivered-To: alice@mailroom.test", b"Delivered-To: postmaster@localhost"]
    for t in texts:
        to = t.split(b"\n")[1]
        assert split_received(t, b"Return-Path: <s@example.org>\n" + to + b"\n") == want
    b = open(bob[0], "rb").read()
    assert split_received(b, b"Return-Path: <s@example.org>\nDelivered-To: "
                          b"bob+notes@mailroom.test\n") == want
    assert wait_until(lambda: qrecords.queues_empty(inst.spool))


def test_kill_9_of_local_loses_nothing(mailroom):
    n = 120
    users = [f"k{i}" for i in range(n)]
    inst = mailroom(extra=FAST_RETRY, qmgr=True, start=False)
    with open(os.path.join(inst.conf_dir, "vmailbox"), "a") as f:
        f.write("".join(f"{u}@mailroom.test mailroom.test/{u}/\n" for u in users))
    inst.start()
    send(inst, [f"{u}@mailroom.test" for u in users])
    inst.wait_log(r"to=<k\d+@mailroom.test>, relay=local, .*status=sent", timeout=30)
    for pid in local_pids(inst):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass                        # it exited meanwhile
    killed_at = time.time()
    sent_before = {m for m in re.findall(r"to=<(k\d+)@mailroom.test>, relay=local, .*status=sent",
                                         inst.log_text())}
    assert wait_until(lambda: qrecords.queues_empty(inst.spool), timeout=90), inst.log_text()[-3000:]
    counts = {u: len(maildir_files(os.path.join(inst.mail, "mailroom.test", u))) for u in users}
    assert all(c >= 1 for c in counts.values()), [u for u, c in counts.items() if c == 0]
    # a recipient logged as sent was marked done before the log line: never again
    assert all(counts[u] == 1 for u in sent_before)
    assert len(sent_before) < n, "local finished before the kill; nothing was tested"
    assert time.time() - killed_at < 90


@pytest.mark.skipif(not IS_ROOT or not shutil.which("setpriv"),
                    reason="needs root and setpriv to play an ordinary user")
def test_ordinary_user_instance_delivers_as_that_user(mailroom):
    """make run by an ordinary user: no privileges to drop, the same code
    path, mail in the demo Maildirs owned by that user."""
    inst = mailroom(extra=FAST_RETRY, qmgr=True, start=False)
    nobody = pwd.getpwnam("nobody")
    for root, dirs, files in os.walk(inst.dir):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), nobody.pw_uid, nobody.pw_gid)
    os.chown(inst.dir, nobody.pw_uid, nobody.pw_gid)
    inst.proc = subprocess.Popen(
        ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
         inst.bin("master"), "-c", inst.conf_dir, "-f"],
        env=inst.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    assert wait_port(inst.ports["smtp"]), inst.log_text()[-2000:]
    send(inst, ["alice@mailroom.test"])
    inst.wait_log(r"to=<alice@mailroom.test>, relay=local, .*status=sent \(delivered to maildir\)",
                  timeout=30)
    files = maildir_files(os.path.join(inst.mail, "mailroom.test", "alice"))
    assert len(files) == 1
    st = os.stat(files[0])
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert open(files[0], "rb").read().endswith(MESSAGE.replace("\r\n", "\n").encode())
    pids = local_pids(inst)
    assert pids and all(os.stat(f"/proc/{p}").st_uid == nobody.pw_uid for p in pids)


def test_alias_retry_delivers_each_member_once(mailroom):
    """An alias of three mailboxes, one of them not writable for a while:
    the other two get one copy each at once, the third one copy after
    the retry, and nobody gets a second one."""
    members = ["crew1", "crew2", "crew3"]
    inst = mailroom(extra=FAST_RETRY, qmgr=True, start=False)
    with open(os.path.join(inst.conf_dir, "vmailbox"), "a") as f:
        f.write("".join(f"{u}@mailroom.test mailroom.test/{u}/\n" for u in members))
    with open(os.path.join(inst.conf_dir, "aliases"), "a") as f:
        f.write("crew: " + ", ".join(f"{u}@mailroom.test" for u in members) + "\n")
    boxes = {u: os.path.join(inst.mail, "mailroom.test", u) for u in members}
    owner = pwd.getpwnam("mailroom") if IS_ROOT else pwd.getpwuid(os.getuid())
    for sub in ("..", ".", "tmp", "new", "cur"):   # crew3's Maildir, tmp/ not writable
        os.makedirs(os.path.join(boxes["crew3"], sub), exist_ok=True)
        os.chown(os.path.join(boxes["crew3"], sub), owner.pw_uid, owner.pw_gid)
    os.chmod(os.path.join(boxes["crew3"], "tmp"), 0o500)
    inst.start()
    send(inst, ["crew@localhost"])
    new_id = inst.wait_log(rf"{ID}: to=<crew@localhost>, relay=local, .*dsn=2\.0\.0, "
                           rf"status=sent \(forwarded as ({ID})\)", timeout=30).group(1)
    for u in ("crew1", "crew2"):
        inst.wait_log(rf"{new_id}: to=<{u}@mailroom.test>, orig_to=<crew@localhost>, relay=local, .*status=sent", timeout=30)
    # deferred, and retried at least once while the mailbox stays broken
    deferred = re.compile(rf"{new_id}: to=<crew3@mailroom.test>, orig_to=<crew@localhost>, relay=local, .*dsn=4\.\d\.\d, "
                          r"status=deferred")
    assert wait_until(lambda: len(deferred.findall(inst.log_text())) >= 2, timeout=30), \
        inst.log_text()[-3000:]
    os.chmod(os.path.join(boxes["crew3"], "tmp"), 0o700)
    inst.wait_log(rf"{new_id}: to=<crew3@mailroom.test>, orig_to=<crew@localhost>, relay=local, .*status=sent", timeout=30)
    assert wait_until(lambda: qrecords.queues_empty(inst.spool)), inst.log_text()[-3000:]
    for u in members:
        files = maildir_files(boxes[u])
        assert len(files) == 1, (u, files)
        data = open(files[0], "rb").read()
        assert data.startswith(b"Return-Path: <s@example.org>\nDelivered-To: " + u.encode()
                               + b"@mailroom.test\nDelivered-To: crew@localhost\nReceived: ")
        assert data.endswith(MESSAGE.replace("\r\n", "\n").encode())
    log = inst.log_text()
    assert log.count(f"{new_id}: to=<crew1@mailroom.test>") == 1
    assert log.count(f"{new_id}: to=<crew2@mailroom.test>") == 1
    assert log.count(": to=<crew@localhost>") == 1


def test_alias_list_retry_delivers_each_destination_once(mailroom):
    """An alias of a mailbox, a command and a file, whose command fails
    with EX_TEMPFAIL (75) the first time: the alias is deferred and
    retried, and afterwards the mailbox, the command and the file have
    the message exactly once each (the retry skips what the first attempt
    delivered)."""
    inst = mailroom(extra=FAST_RETRY, qmgr=True, start=False)
    work = os.path.join(inst.dir, "mix")
    os.makedirs(work)
    os.chmod(work, 0o777)           # the command and the file run as default_privs
    script = os.path.join(work, "cmd.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                f"if [ ! -e {work}/tried ]; then touch {work}/tried; cat >/dev/null; exit 75; fi\n"
                f"cat >> {work}/cmd.out\n")
    os.chmod(script, 0o755)
    with open(os.path.join(inst.conf_dir, "vmailbox"), "a") as f:
        f.write("mixbox@mailroom.test mailroom.test/mixbox/\n")
    with open(os.path.join(inst.conf_dir, "aliases"), "a") as f:
        f.write(f'mix: mixbox@mailroom.test, "|{script}", {work}/box\n')
    inst.start()
    send(inst, ["mix@localhost"])
    qid = inst.wait_log(rf"({ID}): to=<mix@localhost>, relay=local, .*dsn=4\.3\.0, "
                        r"status=deferred", timeout=30).group(1)
    inst.wait_log(rf"{qid}: to=<mix@localhost>, relay=local, .*status=sent", timeout=30)
    assert wait_until(lambda: qrecords.queues_empty(inst.spool)), inst.log_text()[-3000:]
    assert len(maildir_files(os.path.join(inst.mail, "mailroom.test", "mixbox"))) == 1
    for name in ("cmd.out", "box"):
        assert open(os.path.join(work, name), "rb").read().count(b"Subject: hello") == 1, name
    assert inst.log_text().count(f"{qid}: forwarded as ") == 1
    box_uid = os.stat(os.path.join(work, "box")).st_uid   # default_privs: the alias is root's
    for key in (f"mailbox:{box_uid}:{work}/box", "forward:mixbox@mailroom.test"):
        inst.wait_log(rf"{qid}: <mix@localhost>: {re.escape(key)} was delivered by an earlier "
                      r"attempt")
