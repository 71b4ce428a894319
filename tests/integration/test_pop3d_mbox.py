"""test_pop3d_mbox.py - POP3 for system users whose mail is an mbox in the
spool directory (home_mailbox empty: mail_spool_directory/USER), filled by
real deliveries through smtpd -> cleanup -> qmgr -> local.

The spool directory is made as /var/mail usually is (root:mail 2775), the
users with useradd, so the mailbox process really runs as the user with
group mail kept only for the dot-lock. What a user sees: the messages byte
for byte (>From unquoted), DELE then QUIT removing exactly those messages
from the file, nothing changed without QUIT, mail delivered during a
session kept, [IN-USE] while another program holds the lock, and a rewrite
cut short by a crash finished by the next writer.
"""
import fcntl
import grp
import os
import poplib
import pwd
import re
import smtplib
import subprocess
import time

import mkinstance
import pytest
from conftest import free_port, wait_port
from test_pop3d import FAST_RETRY, Raw, wait_procs

BODY = ("From: s@example.org\r\nTo: {to}\r\nSubject: mbox {n}\r\n"
        "Message-ID: <mbox{n}@example.org>\r\n\r\nfirst line {n}\r\n"
        "From the start of a line\r\n>From quoted once\r\n..leading dot\r\nlast\r\n")


@pytest.fixture
def sysuser():
    assert os.geteuid() == 0, "system users are made with useradd: the tests run as root"
    name = f"mbx{os.getpid() % 100000}"
    subprocess.run(["userdel", "--remove", name], capture_output=True)
    subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True)


def mbox_instance(mailroom, user, **extra):
    """An instance whose local delivers to SPOOL/USER (home_mailbox empty),
    the spool directory root:mail 2775 as on Debian, POP3 on a free port."""
    conf = dict(FAST_RETRY, home_mailbox="", deliver_lock_attempts="3",
                deliver_lock_delay="1s", **extra)
    inst = mailroom(extra=conf, qmgr=True, ports={"pop3": free_port()}, start=False)
    spool = os.path.join(inst.dir, "varmail")
    os.mkdir(spool)
    os.chown(spool, 0, grp.getgrnam("mail").gr_gid)
    os.chmod(spool, 0o2775)
    inst.set_conf(mail_spool_directory=spool)
    inst.start()
    assert wait_port(inst.ports["pop3"])
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", os.path.join(inst.conf_dir, "sasldb2"),
                    "-u", mkinstance.SASL_REALM, user.pw_name], input=b"mbox-pw", check=True)
    inst.box = os.path.join(spool, user.pw_name)
    inst.rcpt = f"{user.pw_name}@mx.mailroom.test"
    return inst


def sent(inst):
    return len(re.findall(rf"to=<{re.escape(inst.rcpt)}>, relay=local, .*status=sent",
                          inst.log_text()))


def wait_sent(inst, n):
    deadline = time.time() + 30
    while sent(inst) < n:
        assert time.time() < deadline, inst.log_text()[-3000:]
        time.sleep(0.05)


def submit(inst, numbers):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        for n in numbers:
            s.sendmail("s@example.org", [inst.rcpt], BODY.format(n=n, to=inst.rcpt))


def with_body(inst, numbers):
    """Messages through SMTP, waiting until local wrote each."""
    numbers = list(numbers)
    before = sent(inst)
    submit(inst, numbers)
    wait_sent(inst, before + len(numbers))


def messages(data):
    """The mbox's messages as (start, end) offsets of their From_ lines."""
    starts = [0] if data.startswith(b"From ") else []
    starts += [m.start() + 1 for m in re.finditer(rb"\nFrom ", data)]
    return list(zip(starts, starts[1:] + [len(data)]))


def login(inst, user, pw="mbox-pw"):
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    p.user(user.pw_name)
    p.pass_(pw)
    return p


def content(data, span):
    """What RETR must give for one message: the file's lines after the From_
    line, one '>' less on >From lines, without the separating empty line."""
    text = data[span[0]:span[1]].split(b"\n", 1)[1]
    assert text.endswith(b"\n\n")
    text = text[:-1]
    return re.sub(rb"(?m)^>(>*From )", rb"\1", text)


def test_mbox_retr_uidl_dele_quit(mailroom, sysuser):
    inst = mbox_instance(mailroom, sysuser)
    with_body(inst, range(3))
    st = os.stat(inst.box)
    assert (st.st_uid, st.st_mode & 0o7777) == (sysuser.pw_uid, 0o600)
    data = open(inst.box, "rb").read()
    spans = messages(data)
    assert len(spans) == 3 and b"\n>From the start of a line\n>>From quoted once\n" in data

    p = login(inst, sysuser)
    assert p.stat()[0] == 3
    (box,) = wait_procs(inst, "pop3d-mailbox")
    assert {int(x) for x in box["Uid"].split()} == {sysuser.pw_uid}
    mail_gid = grp.getgrnam("mail").gr_gid
    # the group mail is kept as the saved group id only, not effective
    gids = [int(x) for x in box["Gid"].split()]
    assert gids[0] == sysuser.pw_gid and gids[1] == sysuser.pw_gid and gids[2] == mail_gid
    assert mail_gid not in {int(x) for x in box["Groups"].split()}
    for i, span in enumerate(spans, 1):
        got = b"\n".join(p.retr(i)[1]) + b"\n"
        assert got == content(data, span)
        assert b"\nFrom the start of a line\n>From quoted once\n" in got
    uidl = p.uidl()[1]
    assert p.dele(2).startswith(b"+OK")
    assert p.quit() == b"+OK Bye"
    inst.wait_log(rf"session end: user=<{sysuser.pw_name}>, client=127\.0\.0\.1, "
                  r"retr=3/\d+, top=0/0, dele=1/\d+, reason=quit")
    after = open(inst.box, "rb").read()
    assert after == data[:spans[1][0]] + data[spans[2][0]:]
    st2 = os.stat(inst.box)
    assert (st2.st_ino, st2.st_uid, st2.st_gid, st2.st_mode) == \
        (st.st_ino, st.st_uid, st.st_gid, st.st_mode)
    assert sorted(os.listdir(os.path.dirname(inst.box))) == [sysuser.pw_name]

    # the next session: the same UIDL for the messages that stayed
    p = login(inst, sysuser)
    assert p.uidl()[1] == [b"1 " + uidl[0].split()[1], b"2 " + uidl[2].split()[1]]
    p.quit()
    # the index and the session lock live in the home, the user's
    idx = os.path.join(sysuser.pw_dir, ".mailroom")
    assert os.stat(idx).st_uid == sysuser.pw_uid
    assert all(os.stat(os.path.join(idx, f)).st_uid == sysuser.pw_uid for f in os.listdir(idx))


def test_mbox_dele_without_quit_and_delivery_during_session(mailroom, sysuser):
    inst = mbox_instance(mailroom, sysuser)
    with_body(inst, range(2))
    data = open(inst.box, "rb").read()
    spans = messages(data)

    # DELE, then the client goes away without QUIT: nothing changes
    r = Raw(inst.ports["pop3"])
    assert r.cmd(f"USER {sysuser.pw_name}") == b"+OK"
    assert r.cmd("PASS mbox-pw") == b"+OK Logged in, 2 messages"
    assert r.cmd("DELE 1") == b"+OK Message 1 deleted"
    assert r.cmd("DELE 2") == b"+OK Message 2 deleted"
    r.close()
    inst.wait_log(rf"session end: user=<{sysuser.pw_name}>, .*dele=0/0, reason=disconnected")
    assert open(inst.box, "rb").read() == data

    # a message delivered while a session is open is kept by its QUIT
    p = login(inst, sysuser)
    assert p.stat()[0] == 2
    assert p.dele(1).startswith(b"+OK")
    with_body(inst, [7])                                # local appends meanwhile
    grown = open(inst.box, "rb").read()
    assert grown.startswith(data) and len(grown) > len(data)
    assert p.stat()[0] == 1                             # the session's view stays
    assert p.quit() == b"+OK Bye"
    after = open(inst.box, "rb").read()
    assert after == grown[spans[1][0]:]
    assert len(messages(after)) == 2 and b"Subject: mbox 7\n" in after
    p = login(inst, sysuser)
    assert p.stat()[0] == 2
    assert b"Subject: mbox 7" in b"\n".join(p.retr(2)[1])
    p.quit()


def test_mbox_locked_by_another_program(mailroom, sysuser):
    inst = mbox_instance(mailroom, sysuser)
    with_body(inst, range(2))
    data = open(inst.box, "rb").read()

    # an fcntl lock held longer than deliver_lock_attempts * deliver_lock_delay
    with open(inst.box, "r+b") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)
        r = Raw(inst.ports["pop3"])
        assert r.cmd(f"USER {sysuser.pw_name}") == b"+OK"
        start = time.time()
        assert r.cmd("PASS mbox-pw") == \
            b"-ERR [IN-USE] Mailbox is locked by another program, try again later"
        assert time.time() - start >= 2                 # it waited, within the bound
        assert r.cmd("QUIT") == b"+OK Bye"
        r.close()
    # a lock released within the bound: the login waits for it
    with open(inst.box, "r+b") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)
        r = Raw(inst.ports["pop3"])
        assert r.cmd(f"USER {sysuser.pw_name}") == b"+OK"
        r.s.sendall(b"PASS mbox-pw\r\n")
        time.sleep(1.2)
        fcntl.lockf(held, fcntl.LOCK_UN)
        assert r.line() == b"+OK Logged in, 2 messages"
    # a dot-lock held during QUIT: the deletions fail, the file is untouched
    assert r.cmd("DELE 1") == b"+OK Message 1 deleted"
    lock = inst.box + ".lock"
    open(lock, "w").close()
    assert r.cmd("QUIT") == b"-ERR [SYS/TEMP] Some deleted messages were not removed"
    r.close()
    os.unlink(lock)
    assert open(inst.box, "rb").read() == data
    inst.wait_log(rf"user=<{sysuser.pw_name}>: deleting messages: dot-lock {re.escape(inst.box)}")


def test_fetchmail_empties_the_mbox(mailroom, sysuser, tmp_path):
    inst = mbox_instance(mailroom, sysuser)
    with_body(inst, range(3))
    data = open(inst.box, "rb").read()
    out = tmp_path / "delivered"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f'poll 127.0.0.1 with proto POP3 port {inst.ports["pop3"]}\n'
                  f'  user "{sysuser.pw_name}" there with password "mbox-pw" is "root" here\n'
                  f'  mda "/bin/sh -c \'cat >> {out}; echo ===== >> {out}\'"\n'
                  '  sslproto ""\n')
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    r = subprocess.run(["fetchmail", "-f", str(rc), "--pidfile", str(tmp_path / "fetchmail.pid"),
                        "--nosyslog", "--invisible", "-v"],
                       env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()
    got = out.read_bytes().split(b"=====\n")
    assert got[:3] == [content(data, s) for s in messages(data)] and got[3] == b""
    assert os.path.getsize(inst.box) == 0
    inst.wait_log(rf"session end: user=<{sysuser.pw_name}>, .*dele=3/\d+, reason=quit")


def test_a_rewrite_cut_short_is_finished(mailroom, sysuser):
    """A pop3d killed after writing its journal (USER.rewrite), or half way
    through copying it over the mbox: the next writer - local, before it
    appends - finishes the deletion; a journal cut short is only removed."""
    inst = mbox_instance(mailroom, sysuser)
    with_body(inst, range(3))
    data = open(inst.box, "rb").read()
    spans = messages(data)
    journal = inst.box + ".rewrite"
    mail_gid = grp.getgrnam("mail").gr_gid

    def plant(text):
        with open(journal, "wb") as f:
            f.write(text)
        os.chown(journal, sysuser.pw_uid, mail_gid)

    # incomplete journal: removed, the mailbox as it was, then the delivery
    tail = data[spans[2][0]:]
    plant(b"MRJ1 %d %d %d\n" % (spans[1][0], len(data), len(tail)) + tail[:-5])
    with_body(inst, [3])
    assert not os.path.exists(journal)
    now = open(inst.box, "rb").read()
    assert now.startswith(data) and len(messages(now)) == 4

    # complete journal, the copy half done (killed in step 2): finished
    data = now
    spans = messages(data)
    tail = data[spans[2][0]:]                           # message 2 (index 1) goes
    plant(b"MRJ1 %d %d %d\n" % (spans[1][0], len(data), len(tail)) + tail)
    with open(inst.box, "r+b") as f:
        f.seek(spans[1][0])
        f.write(tail[:len(tail) // 2])
    with_body(inst, [4])
    assert not os.path.exists(journal)
    now = open(inst.box, "rb").read()
    assert now.startswith(data[:spans[1][0]] + tail)
    gone = data[spans[1][0]:spans[1][1]]
    assert len(messages(now)) == 4 and gone not in now
    inst.wait_log(rf"{sysuser.pw_name}: a rewrite cut short was finished")

    # a journal that fits nothing (the file changed by something else): left
    # alone, the delivery deferred, nothing lost
    plant(b"MRJ1 5 7 1\nx")
    size = os.path.getsize(inst.box)
    before = sent(inst)
    submit(inst, [9])
    inst.wait_log(rf"to=<{re.escape(inst.rcpt)}>, relay=local, .*status=deferred .*"
                  r"cannot finish an earlier rewrite", timeout=20)
    assert os.path.getsize(inst.box) == size and os.path.exists(journal)
    # the same journal stops a POP3 login too, with the reason in the log
    r = Raw(inst.ports["pop3"])
    assert r.cmd(f"USER {sysuser.pw_name}") == b"+OK"
    assert r.cmd("PASS mbox-pw") == b"-ERR [SYS/TEMP] Mailbox cannot be opened, try again later"
    r.close()
    os.unlink(journal)                                  # the administrator looked
    wait_sent(inst, before + 1)
    assert b"Subject: mbox 9\n" in open(inst.box, "rb").read()


def test_full_disk_deletes_nothing(mailroom, sysuser):
    """The spool on a small tmpfs: an mbox of three big messages fills it,
    so deleting the first (whose rewrite needs the rest of the file in the
    journal) fails at QUIT with nothing changed and no journal left, while
    deleting the last (nothing to copy) frees the room."""
    inst = mailroom(extra=dict(FAST_RETRY, home_mailbox=""),
                    qmgr=True, ports={"pop3": free_port()}, start=False)
    spool = os.path.join(inst.dir, "varmail")
    os.mkdir(spool)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k,mode=2775,gid=%d" %
                    grp.getgrnam("mail").gr_gid, "tmpfs", spool], check=True)
    try:
        inst.set_conf(mail_spool_directory=spool)
        inst.start()
        assert wait_port(inst.ports["pop3"])
        subprocess.run(["saslpasswd2", "-p", "-c", "-f",
                        os.path.join(inst.conf_dir, "sasldb2"), "-u", mkinstance.SASL_REALM,
                        sysuser.pw_name], input=b"mbox-pw", check=True)
        inst.box = os.path.join(spool, sysuser.pw_name)
        inst.rcpt = f"{sysuser.pw_name}@mx.mailroom.test"
        big = "x" * 76 + "\r\n"
        for n in range(3):
            with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
                s.sendmail("s@example.org", [inst.rcpt],
                           BODY.format(n=n, to=inst.rcpt) + big * 4400)
            wait_sent(inst, n + 1)
        data = open(inst.box, "rb").read()
        spans = messages(data)
        assert len(spans) == 3 and len(data) > 1000000
        free = os.statvfs(spool)
        assert free.f_bavail * free.f_frsize < len(data) - spans[0][1]

        p = login(inst, sysuser)
        assert p.dele(1).startswith(b"+OK")
        with pytest.raises(poplib.error_proto) as e:
            p.quit()
        assert e.value.args[0] == b"-ERR [SYS/TEMP] Some deleted messages were not removed"
        assert open(inst.box, "rb").read() == data
        assert sorted(os.listdir(spool)) == [sysuser.pw_name]
        inst.wait_log(rf"user=<{sysuser.pw_name}>: deleting messages: write "
                      rf"{sysuser.pw_name}\.rewrite: No space left on device")

        p = login(inst, sysuser)
        assert p.dele(3).startswith(b"+OK")
        assert p.quit() == b"+OK Bye"
        assert open(inst.box, "rb").read() == data[:spans[2][0]]
        assert sorted(os.listdir(spool)) == [sysuser.pw_name]
    finally:
        inst.stop()
        subprocess.run(["umount", spool], check=True)


def test_home_mbox(mailroom, sysuser):
    """home_mailbox = Mailbox: local appends to ~/Mailbox (dot-lock in the
    home, as the user), and pop3d serves and rewrites that file the same
    way, without any kept group."""
    inst = mailroom(extra=dict(FAST_RETRY, home_mailbox="Mailbox"), qmgr=True,
                    ports={"pop3": free_port()})
    assert wait_port(inst.ports["pop3"])
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", os.path.join(inst.conf_dir, "sasldb2"),
                    "-u", mkinstance.SASL_REALM, sysuser.pw_name], input=b"mbox-pw", check=True)
    inst.box = os.path.join(sysuser.pw_dir, "Mailbox")
    inst.rcpt = f"{sysuser.pw_name}@mx.mailroom.test"
    with_body(inst, range(2))
    data = open(inst.box, "rb").read()
    spans = messages(data)
    p = login(inst, sysuser)
    (box,) = wait_procs(inst, "pop3d-mailbox")
    assert {int(x) for x in box["Gid"].split()} == {sysuser.pw_gid}
    assert b"\n".join(p.retr(2)[1]) + b"\n" == content(data, spans[1])
    assert p.dele(1).startswith(b"+OK")
    assert p.quit() == b"+OK Bye"
    assert open(inst.box, "rb").read() == data[spans[1][0]:]
    assert not os.path.exists(inst.box + ".lock") and not os.path.exists(inst.box + ".rewrite")


def test_user_named_like_a_lock_has_no_spool_mailbox(mailroom, sysuser):
    """Users bob.lock and bob.rewrite next to bob: SPOOL/bob.lock is bob's
    dot-lock and SPOOL/bob.rewrite bob's journal, so mail to either user
    used to create a file there that blocked or disturbed bob's deliveries
    (and bob's lock was the other user's mailbox). Such names now have no
    spool mailbox: their mail bounces with 5.3.5 and a warning, nothing is
    created in the spool, pop3d refuses their login, and bob's mail
    passes."""
    others = [f"{sysuser.pw_name}.lock", f"{sysuser.pw_name}.rewrite"]
    for name in others:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True)
    try:
        inst = mbox_instance(mailroom, sysuser)
        for name in others:
            subprocess.run(["saslpasswd2", "-p", "-c", "-f",
                            os.path.join(inst.conf_dir, "sasldb2"), "-u", mkinstance.SASL_REALM,
                            name], input=b"mbox-pw", check=True)
            with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
                s.sendmail("s@example.org", [f"{name}@mx.mailroom.test"],
                           BODY.format(n=0, to=name))
            inst.wait_log(rf"to=<{re.escape(name)}@mx\.mailroom\.test>, relay=local, .*"
                          rf"dsn=5\.3\.5, status=bounced \(user name {re.escape(name)} ends "
                          r"in \.lock or \.rewrite: no mailbox in mail_spool_directory\)",
                          timeout=30)
            inst.wait_log(rf"local\[\d+\]: warning: \w+: user {re.escape(name)}: a name ending "
                          r"in \.lock or \.rewrite has no mailbox in ")
            p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
            p.user(name)
            with pytest.raises(poplib.error_proto) as e:
                p.pass_("mbox-pw")
            assert e.value.args[0] == (b"-ERR [SYS/PERM] This mailbox cannot be served "
                                       b"over POP3 here")
            inst.wait_log(rf"warning: login of <{re.escape(name)}> from 127\.0\.0\.1: a user "
                          r"name ending in \.lock or \.rewrite has no mailbox")
        assert sorted(os.listdir(os.path.dirname(inst.box))) == []
        with_body(inst, range(1))
        assert open(inst.box, "rb").read().count(b"\nFrom ") == 0
        assert sorted(os.listdir(os.path.dirname(inst.box))) == [sysuser.pw_name]
    finally:
        for name in others:
            subprocess.run(["userdel", name], capture_output=True)


def test_large_message_retr_in_bounded_memory(mailroom, sysuser):
    """RETR of a 24 MB message from an mbox: byte-exact after poplib's
    un-stuffing, whatever falls on the 64 KB pieces it is copied in
    (dot-stuffed lines, quoted From_ lines, lines of a few KB); and the
    mailbox process's peak resident size stays far below the message. It
    used to read the raw message and its unescaped copy into memory at
    once, about twice the message's size."""
    inst = mbox_instance(mailroom, sysuser, message_size_limit="60000000")
    lines, size, i = [], 0, 0
    while size < 24 * 1024 * 1024:
        chunk = [b".dot %d" % i, b"From the start %d" % i, b">From quoted %d" % i,
                 b">>From twice", b"." * (i % 5 + 1), b"y" * (i % 1999),
                 b">" * (i % 900) + b"From deep", b"..two dots %d" % i, b""]
        lines += chunk
        size += sum(len(line) + 2 for line in chunk)
        i += 1
    msg = (b"From: s@example.org\r\nTo: " + inst.rcpt.encode() + b"\r\nSubject: big\r\n\r\n"
           + b"\r\n".join(lines) + b"\r\n")
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=120) as s:
        s.sendmail("s@example.org", [inst.rcpt], msg)
    wait_sent(inst, 1)
    data = open(inst.box, "rb").read()
    (span,) = messages(data)
    p = login(inst, sysuser)
    (box,) = wait_procs(inst, "pop3d-mailbox")
    got = b"\n".join(p.retr(1)[1]) + b"\n"
    status = dict(line.split(":", 1) for line in open(f"/proc/{box['Pid']}/status")
                  if ":" in line)
    peak_kb = int(status["VmHWM"].split()[0])
    p.quit()
    assert got == content(data, span)
    assert peak_kb < 12 * 1024, peak_kb


def test_retr_with_a_full_index_directory(mailroom, sysuser):
    """The copy RETR makes of an mbox message goes to the index directory;
    when that file system is full (a user at his quota) it goes to memory
    instead, so the user can still read his mail. The index directory is a
    tmpfs of 256 KB here, the message 2 MB."""
    inst = mbox_instance(mailroom, sysuser, message_size_limit="60000000")
    body = "".join(f"line {n} " + "z" * 60 + "\r\n" for n in range(30000))
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=60) as s:
        s.sendmail("s@example.org", [inst.rcpt], f"Subject: full\r\n\r\n{body}")
    wait_sent(inst, 1)
    idx = os.path.join(sysuser.pw_dir, ".mailroom")
    os.makedirs(idx, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o",
                    f"size=256k,mode=0700,uid={sysuser.pw_uid},gid={sysuser.pw_gid}",
                    "tmpfs", idx], check=True)
    p = None
    try:
        data = open(inst.box, "rb").read()
        (span,) = messages(data)
        p = login(inst, sysuser)
        got = b"\n".join(p.retr(1)[1]) + b"\n"
        assert got == content(data, span)
        assert len(got) > 2000000
    finally:
        if p:
            p.close()
        inst.stop()
        subprocess.run(["umount", "--lazy", idx], check=True)
