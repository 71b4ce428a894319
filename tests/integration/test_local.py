"""test_local.py - the local delivery agent, driven through its socket.

Mail is accepted by smtpd and queued by cleanup as usual; the test then
plays qmgr: it moves the queue file into active/ and sends the delivery
request (docs/delivery.md) to private/local itself, so that it can choose
the moment and the recipients (and kill local in the middle). qmgr is
left out of these instances. What is checked is what a user sees: the
bytes in the Maildir or mbox, the reply, the log line, the queue file's
done marks, the owner of the files.
"""
import fcntl
import grp
import os
import pathlib
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import qrecords
from conftest import IS_ROOT

KEEP = {"smtpd", "cleanup", "tabled", "local"}
ID = r"[0-9A-Z]{16}"
MAILDIR_NAME = re.compile(r"^(\d+)\.M(\d{6})P(\d+)Q(\d+)\.([^,/:]+),S=(\d+)$")


def agent_only(inst):
    """master.conf without qmgr (and pickup): the test is the scheduler."""
    path = os.path.join(inst.conf_dir, "master.conf")
    out = []
    for line in open(path).read().splitlines():
        f = line.split()
        if not f or f[0].startswith("#") or f[0][0].isdigit() or (len(f) >= 8 and f[7] in KEEP):
            out.append(line)
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


@pytest.fixture
def agent(mailroom):
    """An instance with smtpd, cleanup and local; returns a factory that
    takes extra mailroom.conf settings and aliases/vmailbox lines."""
    def make(extra=None, aliases="", vmailbox=""):
        inst = mailroom(extra=extra or {}, start=False)
        agent_only(inst)
        with open(os.path.join(inst.conf_dir, "aliases"), "a") as f:
            f.write(aliases)
        with open(os.path.join(inst.conf_dir, "vmailbox"), "a") as f:
            f.write(vmailbox)
        return inst.start()
    return make


def submit(inst, rcpts, text, sender="s@example.org"):
    """Send over SMTP; returns the queue file path in incoming/."""
    before = set(qrecords.files(inst.spool, "incoming"))
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail(sender, rcpts, text)
    deadline = time.time() + 10
    while time.time() < deadline:
        new = set(qrecords.files(inst.spool, "incoming")) - before
        if new:
            return new.pop()
        time.sleep(0.02)
    raise AssertionError("message not queued")


def activate(inst, path):
    """incoming/H/ID -> active/H/ID, as qmgr does."""
    rel = os.path.relpath(path, os.path.join(inst.spool, "incoming"))
    dest = os.path.join(inst.spool, "active", rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if IS_ROOT:
        pw = pwd.getpwnam("mailroom")
        os.chown(os.path.dirname(dest), pw.pw_uid, pw.pw_gid)
    os.rename(path, dest)
    return dest


def records_at(data):
    """(type, offset, value) of every record."""
    out, i = [], 0
    while i < len(data):
        start, t = i, data[i:i + 1]
        i += 1
        n, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        out.append((t, start, data[i:i + n]))
        i += n
    return out


def request(path, only=None, flags=0):
    """The delivery request for the queue file at path (all recipients, or
    those in only)."""
    recs = records_at(open(path, "rb").read())
    env = {"sender": "", "time": "0.0", "size": "0"}
    rcpts = []
    for t, off, v in recs:
        if t == qrecords.MESG:
            break
        if t == qrecords.SENDER:
            env["sender"] = v.decode()
        elif t == qrecords.TIME:
            env["time"] = v.decode()
        elif t == qrecords.SIZE:
            env["size"] = str(int(v))
        elif t in (qrecords.RCPT, qrecords.DONE):
            rcpts.append({"rcpt": v.decode(), "offset": off, "orcpt": "", "notify": ""})
        elif t == qrecords.ORCPT:
            rcpts[-1]["orcpt"] = v.decode()
        elif t == qrecords.NOTIFY:
            rcpts[-1]["notify"] = v.decode()
    if only is not None:
        rcpts = [r for r in rcpts if r["rcpt"] in only]
    attrs = [("queue_name", "active"), ("queue_id", os.path.basename(path)),
             ("transport", "local"), ("nexthop", "mailroom.test"), ("sender", env["sender"]),
             ("size", env["size"]), ("arrival_time", env["time"]),
             ("active_time", "%.6f" % time.time()), ("flags", str(flags)),
             ("rcpt_count", str(len(rcpts)))]
    for i, r in enumerate(rcpts):
        attrs += [(f"rcpt.{i}", r["rcpt"]), (f"orcpt.{i}", r["orcpt"]),
                  (f"notify.{i}", r["notify"]), (f"offset.{i}", str(r["offset"]))]
    return attrs, [r["rcpt"] for r in rcpts]


def esc(v):
    return v.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def deliver(inst, path, only=None, flags=0, timeout=60):
    """Send one request to private/local; returns {rcpt: (status, dsn, reason)}."""
    attrs, rcpts = request(path, only, flags)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(os.path.join(inst.spool, "private", "local"))
        f = s.makefile("rwb")
        assert qrecords.read_attrs(f) == {"protocol": "delivery"}
        f.write("".join(f"{k}={esc(v)}\n" for k, v in attrs).encode() + b"\n")
        f.flush()
        reply = qrecords.read_attrs(f)
    return {r: (reply.get(f"status.{i}"), reply.get(f"dsn.{i}"), reply.get(f"reason.{i}"))
            for i, r in enumerate(rcpts)}


def done_marks(path):
    return {v.decode(): t == qrecords.DONE for t, _o, v in records_at(open(path, "rb").read())
            if t in (qrecords.RCPT, qrecords.DONE)}


def maildir_files(d):
    new = os.path.join(d, "new")
    return sorted(os.path.join(new, n) for n in os.listdir(new)) if os.path.isdir(new) else []


def queued_content(path):
    return qrecords.content(qrecords.parse(open(path, "rb").read()))


MESSAGE = ("From: s@example.org\r\nSubject: local test\r\nMessage-ID: <t1@example.org>\r\n"
           "Date: Fri, 27 Nov 2026 14:00:00 +0000\r\n\r\nline one\r\n.dot line\r\nFrom here\r\n")


def test_virtual_maildir_is_byte_exact(agent):
    inst = agent()
    q = activate(inst, submit(inst, ["alice@mailroom.test"], MESSAGE))
    qid = os.path.basename(q)
    assert deliver(inst, q) == {"alice@mailroom.test": ("sent", "2.0.0", "delivered to maildir")}
    box = os.path.join(inst.mail, "mailroom.test", "alice")
    files = maildir_files(box)
    assert len(files) == 1 and os.listdir(os.path.join(box, "tmp")) == []
    data = open(files[0], "rb").read()
    queued = queued_content(q)
    assert queued.startswith(b"Received: from ")
    received = queued.split(b"\nFrom: s@example.org\n")[0] + b"\n"
    assert data == (b"Return-Path: <s@example.org>\nDelivered-To: alice@mailroom.test\n"
                    + received + MESSAGE.replace("\r\n", "\n").encode())
    assert data == b"Return-Path: <s@example.org>\nDelivered-To: alice@mailroom.test\n" + queued
    m = MAILDIR_NAME.match(os.path.basename(files[0]))
    assert m, files[0]
    assert int(m.group(6)) == len(data)
    assert abs(int(m.group(1)) - time.time()) < 60
    assert done_marks(q) == {"alice@mailroom.test": True}
    inst.wait_log(rf"mailroom/local\[\d+\]: {qid}: to=<alice@mailroom.test>, relay=local, "
                  r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                  r"status=sent \(delivered to maildir\)")
    if IS_ROOT:
        assert os.stat(files[0]).st_uid == pwd.getpwnam("mailroom").pw_uid
    # asked again (a qmgr that crashed before reading the reply): not delivered twice
    assert deliver(inst, q)["alice@mailroom.test"][0] == "sent"
    assert len(maildir_files(box)) == 1


def test_aliases_extension_and_loop(agent):
    inst = agent(aliases="team: alice@mailroom.test, bob@mailroom.test\n")
    q = activate(inst, submit(inst, ["postmaster@localhost", "team@localhost",
                                     "bob+lists@mailroom.test"], MESSAGE))
    r = deliver(inst, q)
    assert {k: v[0] for k, v in r.items()} == {"postmaster@localhost": "sent",
                                              "team@localhost": "sent",
                                              "bob+lists@mailroom.test": "sent"}
    # an alias of two addresses is re-submitted: one new message, one recipient each
    m = re.fullmatch(r"forwarded as (" + ID + ")", r["team@localhost"][2])
    assert m, r["team@localhost"]
    new = [p for p in qrecords.files(inst.spool, "incoming") if p.endswith(m.group(1))]
    assert len(new) == 1
    recs = qrecords.parse(open(new[0], "rb").read())
    env = qrecords.envelope(recs)
    assert env["sender"] == "s@example.org"
    assert env["rcpts"] == [("alice@mailroom.test", False), ("bob@mailroom.test", False)]
    assert env["orcpt"] == ["rfc822;team@localhost"] * 2
    assert qrecords.content(recs) == b"Delivered-To: team@localhost\n" + queued_content(q)
    assert {k: v[0] for k, v in deliver(inst, activate(inst, new[0])).items()} == {
        "alice@mailroom.test": "sent", "bob@mailroom.test": "sent"}
    alice = [open(f, "rb").read() for f in maildir_files(os.path.join(inst.mail, "mailroom.test", "alice"))]
    bob = [open(f, "rb").read() for f in maildir_files(os.path.join(inst.mail, "mailroom.test", "bob"))]
    assert sorted(m.split(b"\n")[1] for m in alice) == [b"Delivered-To: alice@mailroom.test",
                                                        b"Delivered-To: postmaster@localhost"]
    assert sorted(m.split(b"\n")[1] for m in bob) == [b"Delivered-To: bob+lists@mailroom.test",
                                                      b"Delivered-To: bob@mailroom.test"]
    for box, who in ((alice, b"alice"), (bob, b"bob")):
        assert [m.split(b"\n")[2] for m in box if m.split(b"\n")[1].endswith(who + b"@mailroom.test")] \
            == [b"Delivered-To: team@localhost"]
    # a message that was here before is a loop
    q = activate(inst, submit(inst, ["alice@mailroom.test"],
                              "Delivered-To: alice@mailroom.test\r\nSubject: again\r\n\r\nx\r\n"))
    assert deliver(inst, q) == {"alice@mailroom.test": (
        "bounced", "5.4.6", "mail forwarding loop for alice@mailroom.test")}
    assert len(maildir_files(os.path.join(inst.mail, "mailroom.test", "alice"))) == 2
    assert done_marks(q) == {"alice@mailroom.test": True}
    assert qrecords.files(inst.spool, "bounce")


def test_alias_of_several_keeps_dsn_but_success_once(agent):
    """The new message of a list of several addresses keeps ORCPT and
    NOTIFY for each address, without SUCCESS: the sender hears of the
    expansion once (SUCCESS alone becomes NEVER). A single forward keeps
    NOTIFY as it was."""
    inst = agent(aliases="team: alice@mailroom.test, bob@mailroom.test\n"
                         "fwd: someone@example.net\n")
    for rcpt, notify, want in (("team@localhost", "SUCCESS,FAILURE", [b"FAILURE"] * 2),
                               ("team@localhost", "SUCCESS", [b"NEVER"] * 2),
                               ("fwd@localhost", "SUCCESS,DELAY", [b"SUCCESS,DELAY"])):
        before = set(qrecords.files(inst.spool, "incoming"))
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.ehlo()
            s.sendmail("s@example.org", [rcpt], MESSAGE, rcpt_options=[f"NOTIFY={notify}"])
        deadline = time.time() + 10
        while not set(qrecords.files(inst.spool, "incoming")) - before and time.time() < deadline:
            time.sleep(0.02)
        (q,) = set(qrecords.files(inst.spool, "incoming")) - before
        q = activate(inst, q)
        status, _dsn, reason = deliver(inst, q)[rcpt]
        assert status == "sent", reason
        new = reason.split()[-1]
        (path,) = [p for p in qrecords.files(inst.spool, "incoming") if p.endswith(new)]
        recs = qrecords.parse(open(path, "rb").read())
        assert [v for t, v in recs if t == qrecords.NOTIFY] == want
        assert qrecords.envelope(recs)["orcpt"] == [f"rfc822;{rcpt}"] * len(want)


@pytest.fixture
def tmp_path():
    """A temporary folder every user may traverse (deliveries run as other
    users), removed afterwards."""
    d = tempfile.mkdtemp(prefix="mailroom-local-", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_forward_elsewhere_goes_through_cleanup(agent):
    inst = agent(aliases="fwd: someone@example.net\n")
    q = activate(inst, submit(inst, ["fwd@localhost"], MESSAGE))
    status, dsn, reason = deliver(inst, q)["fwd@localhost"]
    assert (status, dsn) == ("sent", "2.0.0")
    m = re.fullmatch(r"forwarded as (" + ID + ")", reason)
    assert m, reason
    new = [p for p in qrecords.files(inst.spool, "incoming") if p.endswith(m.group(1))]
    assert len(new) == 1
    recs = qrecords.parse(open(new[0], "rb").read())
    env = qrecords.envelope(recs)
    assert env["sender"] == "s@example.org"
    assert env["rcpts"] == [("someone@example.net", False)]
    assert env["orcpt"] == ["rfc822;fwd@localhost"]
    assert qrecords.content(recs) == b"Delivered-To: fwd@localhost\n" + queued_content(q)
    inst.wait_log(rf"{os.path.basename(q)}: forwarded as {m.group(1)}")


def test_pipe_file_and_include(agent, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    listfile = tmp_path / "list"
    write(listfile, "# members\nbob@mailroom.test\n")
    inst = agent(aliases=(
        f'env: "|env > {out}/env; ls /proc/self/fd > {out}/fds; cat > {out}/stdin"\n'
        "later: |echo try again later; exit 75\n"
        "nouser: |exit 67\n"
        f"archive: {out}/archive\n"
        f"members: :include:{listfile}\n"
        f'sgid: "|{out}/sgid-id -g > {out}/egid"\n'))
    # a set-gid program (like mailroom-postdrop, which sendmail runs) keeps its power
    shutil.copy("/usr/bin/id", out / "sgid-id")
    drop_gid = grp.getgrnam("mailroom-drop").gr_gid if IS_ROOT else os.getgid()
    if IS_ROOT:
        os.chown(out / "sgid-id", 0, drop_gid)
    os.chmod(out / "sgid-id", 0o2755)
    q = activate(inst, submit(inst, ["env+x@localhost", "later@localhost", "nouser@localhost",
                                     "archive@localhost", "members@localhost", "sgid@localhost"],
                              MESSAGE))
    r = deliver(inst, q)
    assert r["env+x@localhost"] == ("sent", "2.0.0", "delivered to command")
    assert r["later@localhost"][:2] == ("deferred", "4.3.0")
    assert "try again later" in r["later@localhost"][2]
    assert r["nouser@localhost"][:2] == ("bounced", "5.1.1")
    assert r["archive@localhost"] == ("sent", "2.0.0", f"delivered to file: {out}/archive")
    assert r["members@localhost"] == ("sent", "2.0.0", "delivered to maildir")
    assert r["sgid@localhost"][0] == "sent"
    assert open(out / "egid").read().strip() == str(drop_gid)
    env = dict(line.split("=", 1) for line in open(out / "env").read().splitlines() if "=" in line)
    assert env["SENDER"] == "s@example.org"
    assert env["RECIPIENT"] == "env+x@localhost"
    assert (env["LOCAL"], env["EXTENSION"], env["DOMAIN"]) == ("env+x", "x", "localhost")
    assert env["PATH"] == "/usr/bin:/bin"
    assert "MAILROOM_CONFIG_DIR" not in env          # nothing of the daemon's environment
    assert open(out / "fds").read().split() == ["0", "1", "2", "3"]   # 3: ls reading the folder
    if IS_ROOT:                                       # root-owned aliases: default_privs
        assert env["USER"] == "nobody"
        assert os.stat(out / "env").st_uid == pwd.getpwnam("nobody").pw_uid
    stdin = open(out / "stdin", "rb").read()
    assert stdin.startswith(b"Return-Path: <s@example.org>\nDelivered-To: env+x@localhost\nReceived: ")
    assert stdin.endswith(MESSAGE.replace("\r\n", "\n").encode())
    archive = open(out / "archive", "rb").read()
    assert archive.startswith(b"From s@example.org  ")
    assert b"\nDelivered-To: archive@localhost\n" in archive
    assert b"\n>From here\n\n" in archive or archive.endswith(b"\n>From here\n\n")
    marks = done_marks(q)
    assert marks == {"env+x@localhost": True, "later@localhost": False, "nouser@localhost": True,
                     "archive@localhost": True, "members@localhost": True, "sgid@localhost": True}
    qid = os.path.basename(q)
    inst.wait_log(rf"{qid}: to=<later@localhost>, relay=local, .*status=deferred \(temporary failure")
    inst.wait_log(rf"{qid}: to=<nouser@localhost>, relay=local, .*dsn=5\.1\.1, status=bounced")
    assert len(maildir_files(os.path.join(inst.mail, "mailroom.test", "bob"))) == 1


@pytest.fixture
def user(tmp_path):
    """A throwaway system user (root only): useradd, removed afterwards."""
    if not IS_ROOT:
        pytest.skip("needs root to create a system user")
    name = "mrt%d" % (os.getpid() % 100000)
    home = tmp_path / "home"
    subprocess.run(["useradd", "--home-dir", str(home), "--create-home", "--shell", "/bin/sh",
                    "--user-group", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        # userdel refuses (8) while a process runs as the user: a Maildir
        # delivery child local keeps for it exits when local does, or after
        # local_child_idle_time
        deadline = time.time() + 15
        while (subprocess.run(["userdel", name], capture_output=True).returncode == 8
               and time.time() < deadline):
            time.sleep(0.1)


def test_system_user_maildir_and_forward(user, agent, tmp_path):
    home = user.pw_dir
    inst = agent()
    q = activate(inst, submit(inst, [f"{user.pw_name}@localhost"], MESSAGE))
    assert deliver(inst, q)[f"{user.pw_name}@localhost"] == ("sent", "2.0.0", "delivered to maildir")
    files = maildir_files(os.path.join(home, "Maildir"))
    assert len(files) == 1
    st = os.stat(files[0])
    assert (st.st_uid, st.st_gid) == (user.pw_uid, user.pw_gid)
    assert os.stat(os.path.join(home, "Maildir")).st_uid == user.pw_uid

    # .forward: a copy to the mailbox and one to a command, run as the user
    fwd = os.path.join(home, ".forward")
    write(fwd, f'\\{user.pw_name}, "|id -u > {home}/uid"\n', 0o644)
    os.chown(fwd, user.pw_uid, user.pw_gid)
    q = activate(inst, submit(inst, [f"{user.pw_name}@localhost"], MESSAGE))
    assert deliver(inst, q)[f"{user.pw_name}@localhost"][0] == "sent"
    assert open(os.path.join(home, "uid")).read().strip() == str(user.pw_uid)
    assert len(maildir_files(os.path.join(home, "Maildir"))) == 2

    # .forward+ext for user+ext
    write(fwd + "+x", f'"|echo ext > {home}/ext"\n', 0o600)
    os.chown(fwd + "+x", user.pw_uid, user.pw_gid)
    q = activate(inst, submit(inst, [f"{user.pw_name}+x@localhost"], MESSAGE))
    assert deliver(inst, q)[f"{user.pw_name}+x@localhost"][0] == "sent"
    assert open(os.path.join(home, "ext")).read() == "ext\n"
    assert len(maildir_files(os.path.join(home, "Maildir"))) == 2

    # a group-writable .forward, or one owned by someone else, is ignored
    for mode, owner in ((0o664, user.pw_uid), (0o644, pwd.getpwnam("nobody").pw_uid)):
        write(fwd, f'"|touch {home}/ran"\n', mode)
        os.chown(fwd, owner, user.pw_gid)
        q = activate(inst, submit(inst, [f"{user.pw_name}@localhost"], MESSAGE))
        assert deliver(inst, q)[f"{user.pw_name}@localhost"] == ("sent", "2.0.0", "delivered to maildir")
        assert not os.path.exists(os.path.join(home, "ran"))
    inst.wait_log(r"warning: ignoring .*/\.forward: writable by group or others")
    inst.wait_log(r"warning: ignoring .*/\.forward: not owned by the user")
    assert len(maildir_files(os.path.join(home, "Maildir"))) == 4

    # a Maildir that is a link to somewhere the user may not write: no root help
    os.rename(os.path.join(home, "Maildir"), os.path.join(home, "Maildir.old"))
    victim = tmp_path / "victim"
    victim.mkdir()
    os.chmod(victim, 0o755)
    os.symlink(str(victim), os.path.join(home, "Maildir"))
    q = activate(inst, submit(inst, [f"{user.pw_name}@localhost"], MESSAGE))
    assert deliver(inst, q)[f"{user.pw_name}@localhost"][:2] == ("deferred", "4.2.0")
    assert os.listdir(victim) == []


def test_mbox_in_home(agent, user):
    inst = agent(extra={"home_mailbox": "Mailbox"})
    rcpt = f"{user.pw_name}@localhost"
    for _ in range(2):
        q = activate(inst, submit(inst, [rcpt], MESSAGE))
        assert deliver(inst, q)[rcpt] == ("sent", "2.0.0", "delivered to mailbox")
    box = os.path.join(user.pw_dir, "Mailbox")
    st = os.stat(box)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (user.pw_uid, user.pw_gid, 0o600)
    text = open(box, "rb").read()
    assert text.count(b"\nFrom s@example.org  ") == 1 and text.startswith(b"From s@example.org  ")
    assert not os.path.exists(box + ".lock")


def spool_instance(agent, tmp_path, **extra):
    spool = tmp_path / "spoolmail"
    spool.mkdir()
    os.chmod(spool, 0o1777 if not IS_ROOT else 0o755)
    conf = {"home_mailbox": "", "mail_spool_directory": str(spool),
            "deliver_lock_attempts": "5", "deliver_lock_delay": "1s"}
    conf.update(extra)
    return agent(extra=conf), spool


def test_mbox_waits_for_lock_and_never_interleaves(agent, user, tmp_path):
    inst, spool = spool_instance(agent, tmp_path, deliver_lock_attempts="8")
    rcpt = f"{user.pw_name}@localhost"
    q1 = activate(inst, submit(inst, [rcpt], MESSAGE))
    assert deliver(inst, q1)[rcpt] == ("sent", "2.0.0", "delivered to mailbox")
    box = spool / user.pw_name
    st = os.stat(box)
    assert (st.st_uid, st.st_mode & 0o777) == (user.pw_uid, 0o600)
    first = open(box, "rb").read()
    assert first.startswith(b"From s@example.org  ") and first.endswith(b"\n>From here\n\n")

    # another writer holds the fcntl lock for 2.5 s: local waits, then appends.
    # Its own write comes first, so that nothing slow (a disk busy with
    # others' writes) stands between the 2.5 s and the unlock: local tries
    # for (deliver_lock_attempts - 1) * deliver_lock_delay = 7 s in all.
    q2 = activate(inst, submit(inst, [rcpt], MESSAGE.replace("local test", "second")))
    with open(box, "ab") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)
        held.write(b"WRITER\n")
        held.flush()
        result = {}
        t = threading.Thread(target=lambda: result.update(deliver(inst, q2)))
        start = time.time()
        t.start()
        time.sleep(2.5)
        fcntl.lockf(held, fcntl.LOCK_UN)
    t.join(90)
    assert not t.is_alive(), "no reply from local within 90 s"
    assert result[rcpt] == ("sent", "2.0.0", "delivered to mailbox")
    assert time.time() - start >= 2.5
    text = open(box, "rb").read()
    assert text.startswith(first + b"WRITER\nFrom s@example.org  ")
    assert b"Subject: second\n" in text and text.endswith(b"\n>From here\n\n")

    # held for longer than deliver_lock_attempts * deliver_lock_delay: deferred, untouched
    size = os.path.getsize(box)
    q3 = activate(inst, submit(inst, [rcpt], MESSAGE))
    with open(box, "ab") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)
        r = deliver(inst, q3)
    assert r[rcpt][:2] == ("deferred", "4.2.0")
    assert os.path.getsize(box) == size
    assert done_marks(q3) == {rcpt: False}
    # a fresh dot-lock defers too
    open(str(box) + ".lock", "w").close()
    assert deliver(inst, q3)[rcpt][:2] == ("deferred", "4.2.0")
    os.unlink(str(box) + ".lock")
    assert deliver(inst, q3)[rcpt][0] == "sent"
    assert not os.path.exists(str(box) + ".lock")


def test_spool_mailbox_link_is_refused(agent, user, tmp_path):
    inst, spool = spool_instance(agent, tmp_path)
    target = tmp_path / "target"
    target.write_text("precious\n")
    os.symlink(str(target), spool / user.pw_name)
    rcpt = f"{user.pw_name}@localhost"
    q = activate(inst, submit(inst, [rcpt], MESSAGE))
    assert deliver(inst, q)[rcpt][:2] == ("deferred", "4.2.0")
    assert target.read_text() == "precious\n"


def local_pids(inst):
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if cmd and os.path.basename(cmd[0]) == b"local" and inst.conf_dir.encode() in cmd:
                out.append(int(pid))
    return out


def test_kill_9_loses_nothing_and_repeats_nothing_marked(agent):
    n = 150
    users = [f"u{i}@mailroom.test" for i in range(n)]
    inst = agent(vmailbox="".join(f"u{i}@mailroom.test mailroom.test/u{i}/\n" for i in range(n)))
    q = activate(inst, submit(inst, users, MESSAGE))
    box = {u: os.path.join(inst.mail, "mailroom.test", u.split("@")[0]) for u in users}
    t = threading.Thread(target=lambda: _ignore_errors(deliver, inst, q))
    t.start()
    deadline = time.time() + 30
    while not any(done_marks(q).values()) and time.time() < deadline:
        time.sleep(0.002)
    for pid in local_pids(inst):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass                        # it exited meanwhile
    t.join(30)
    marked = {u for u, d in done_marks(q).items() if d}
    assert 0 < len(marked) < n, "the kill came too late to test anything"
    for u in marked:
        assert len(maildir_files(box[u])) == 1
    # qmgr asks again: the marked ones are answered at once, the rest delivered
    r = deliver(inst, q)
    assert all(v[0] == "sent" for v in r.values())
    assert all(done_marks(q).values())
    for u in users:
        count = len(maildir_files(box[u]))
        assert count == 1 if u in marked else count in (1, 2)


def _ignore_errors(fn, *args):
    try:
        fn(*args)
    except (OSError, EOFError):
        pass


def test_verify_only_does_not_deliver(agent):
    inst = agent()
    q = activate(inst, submit(inst, ["alice@mailroom.test", "postmaster@localhost"], MESSAGE))
    r = deliver(inst, q, flags=1)
    assert r["alice@mailroom.test"] == ("sent", "2.0.0", "delivers to virtual mailbox")
    assert maildir_files(os.path.join(inst.mail, "mailroom.test", "alice")) == []


def one_local(inst):
    """master.conf: at most one local process, so that every request meets
    the same kept child (local_child_idle_time)."""
    path = os.path.join(inst.conf_dir, "master.conf")
    lines = open(path).read().splitlines()
    for i, line in enumerate(lines):
        f = line.split()
        if len(f) >= 8 and f[0] == "local" and f[7] == "local":
            f[6] = "1"
            lines[i] = " ".join(f)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def kept_children(inst):
    """local processes whose parent is a local process: the kept children"""
    pids = local_pids(inst)
    out = []
    for p in pids:
        try:
            stat = open(f"/proc/{p}/stat").read()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) in pids:
            out.append(p)
    return out


def delivered_by(path):
    """the P<pid> part of a Maildir file name: the process that wrote it"""
    m = MAILDIR_NAME.match(os.path.basename(path))
    assert m, path
    return int(m.group(3))


# local waits for its kept child's answer in poll on one descriptor, for at
# most local_child_time_limit (CHILD_LIMIT here, so that the wait is told
# from the other polls of one descriptor: reading the request has other
# deadlines); then it reads the answer with recvfrom
CHILD_LIMIT = 77
POLL = {"x86_64": "7", "aarch64": "73"}   # aarch64 has ppoll only: no timeout to read
RECVFROM = {"x86_64": "45", "aarch64": "207"}


def waits_in_recv(pid):
    try:
        call = open(f"/proc/{pid}/syscall").read().split()
    except OSError:
        return False
    machine = os.uname().machine
    if len(call) < 4:
        return False
    if call[0] == RECVFROM.get(machine):
        return True
    return (call[0] == POLL.get(machine) and int(call[2], 16) == 1
            and (machine != "x86_64"
                 or (CHILD_LIMIT - 5) * 1000 <= int(call[3], 16) <= CHILD_LIMIT * 1000))


def kept_agent(mailroom, extra=None):
    inst = mailroom(extra=extra or {}, start=False)
    agent_only(inst)
    one_local(inst)
    return inst.start()


def test_maildir_child_is_kept_for_the_next_delivery(mailroom):
    inst = kept_agent(mailroom)
    box = os.path.join(inst.mail, "mailroom.test", "alice")
    writers = []
    for rcpt in ("alice@mailroom.test", "postmaster@localhost", "alice@mailroom.test"):
        q = activate(inst, submit(inst, [rcpt], MESSAGE))
        assert deliver(inst, q)[rcpt] == ("sent", "2.0.0", "delivered to maildir")
        assert done_marks(q) == {rcpt: True}
        files = maildir_files(box)
        writers.append(delivered_by(max(files, key=os.path.getmtime)))
    assert len(maildir_files(box)) == 3
    # one child wrote all three and still waits for the next one, as the
    # mailbox owner, beside its local process
    assert len(set(writers)) == 1
    assert kept_children(inst) == writers[:1]
    if IS_ROOT:
        assert os.stat(f"/proc/{writers[0]}").st_uid == pwd.getpwnam("mailroom").pw_uid
    # it holds nothing of local's but its socket and the log
    fds = os.listdir(f"/proc/{writers[0]}/fd")
    targets = [os.readlink(f"/proc/{writers[0]}/fd/{fd}") for fd in fds if int(fd) > 2]
    assert all(not t.startswith("/") or t.endswith(".log") for t in targets), targets
    assert sum(t.startswith("socket:") for t in targets) <= 2, targets
    # a child that died meanwhile: the next delivery gets a new one
    os.kill(writers[0], signal.SIGKILL)
    time.sleep(0.2)
    q = activate(inst, submit(inst, ["alice@mailroom.test"], MESSAGE))
    assert deliver(inst, q)["alice@mailroom.test"][0] == "sent"
    newest = max(maildir_files(box), key=os.path.getmtime)
    assert delivered_by(newest) != writers[0]
    assert len(maildir_files(box)) == 4


def test_kept_child_killed_mid_delivery_defers(mailroom):
    inst = kept_agent(mailroom, {"local_child_time_limit": f"{CHILD_LIMIT}s"})
    box = os.path.join(inst.mail, "mailroom.test", "alice")
    q = activate(inst, submit(inst, ["alice@mailroom.test"], MESSAGE))
    assert deliver(inst, q)["alice@mailroom.test"][0] == "sent"
    [child] = kept_children(inst)
    parent = [p for p in local_pids(inst) if p != child]
    os.kill(child, signal.SIGSTOP)
    q = activate(inst, submit(inst, ["alice@mailroom.test"], MESSAGE))
    got = {}
    t = threading.Thread(target=lambda: got.update(deliver(inst, q)))
    t.start()
    deadline = time.time() + 10
    while not any(waits_in_recv(p) for p in parent) and time.time() < deadline:
        time.sleep(0.01)
    assert any(waits_in_recv(p) for p in parent), "the request never reached the child"
    os.kill(child, signal.SIGKILL)
    t.join(30)
    uid = pwd.getpwnam("mailroom").pw_uid if IS_ROOT else os.getuid()
    assert got["alice@mailroom.test"] == (
        "deferred", "4.3.0", f"delivery process for uid {uid} died")
    assert done_marks(q) == {"alice@mailroom.test": False}
    assert len(maildir_files(box)) == 1
    # qmgr asks again: delivered once, by a new child
    assert deliver(inst, q)["alice@mailroom.test"][0] == "sent"
    assert done_marks(q) == {"alice@mailroom.test": True}
    assert len(maildir_files(box)) == 2
    assert child not in kept_children(inst)


def test_child_per_delivery_when_keeping_is_off(mailroom):
    inst = kept_agent(mailroom, {"local_child_idle_time": "0"})
    box = os.path.join(inst.mail, "mailroom.test", "alice")
    for _ in range(2):
        q = activate(inst, submit(inst, ["alice@mailroom.test"], MESSAGE))
        assert deliver(inst, q)["alice@mailroom.test"][0] == "sent"
    writers = {delivered_by(f) for f in maildir_files(box)}
    assert len(writers) == 2
    assert kept_children(inst) == []


def test_kept_child_copies_long_lines_and_large_messages_exactly(mailroom):
    """local reads a message's content once and hands it to the kept child
    with the request (a line of 100 KB comes in pieces); content beyond
    1 MB the child reads from the queue file itself: every copy is byte for
    byte the queued content."""
    inst = kept_agent(mailroom)
    box = os.path.join(inst.mail, "mailroom.test", "alice")
    long_line = "".join(chr(ord("a") + i % 26) for i in range(100 * 1024))
    texts = [MESSAGE.replace("line one", long_line),
             MESSAGE + "".join(f"{i:07d} " + "x" * 70 + "\r\n" for i in range(16000)),
             MESSAGE]
    for text in texts:
        q = activate(inst, submit(inst, ["alice@mailroom.test"], text))
        assert deliver(inst, q)["alice@mailroom.test"] == ("sent", "2.0.0", "delivered to maildir")
        newest = max(maildir_files(box), key=os.path.getmtime)
        data = open(newest, "rb").read()
        assert data == (b"Return-Path: <s@example.org>\nDelivered-To: alice@mailroom.test\n"
                        + queued_content(q))
        assert int(MAILDIR_NAME.match(os.path.basename(newest)).group(6)) == len(data)
    assert len(maildir_files(box)) == 3
    assert sum(os.path.getsize(f) > 1024 * 1024 for f in maildir_files(box)) == 1
    assert len({delivered_by(f) for f in maildir_files(box)}) == 1


def deliver_batch(inst, paths, timeout=60):
    """Send the requests for paths as one batch (more=1 on all but the
    last) on one connection; returns {queue_id: (status, dsn, reason)}."""
    out = {}
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(os.path.join(inst.spool, "private", "local"))
        f = s.makefile("rwb")
        assert qrecords.read_attrs(f) == {"protocol": "delivery"}
        for i, path in enumerate(paths):
            attrs, _ = request(path)
            attrs.append(("more", "1" if i < len(paths) - 1 else "0"))
            f.write("".join(f"{k}={esc(v)}\n" for k, v in attrs).encode() + b"\n")
        f.flush()
        for _ in paths:
            reply = qrecords.read_attrs(f)
            out[reply["queue_id"]] = (reply.get("status.0"), reply.get("dsn.0"),
                                      reply.get("reason.0"))
    return out


def test_batch_outcomes_come_back_with_the_flush(mailroom):
    """In a batch the kept child writes each message while local prepares
    the next, and tells what each came to when it flushes new/: a Maildir
    it cannot open defers its own message only, the others are sent and
    marked done, each file once."""
    inst = kept_agent(mailroom)
    bad = os.path.join(inst.mail, "mailroom.test", "bob")
    os.makedirs(os.path.join(bad, "new"))
    os.makedirs(os.path.join(bad, "cur"))
    write(os.path.join(bad, "tmp"), "not a directory\n")
    if IS_ROOT:
        pw = pwd.getpwnam("mailroom")
        for p in (bad, os.path.dirname(bad), os.path.join(bad, "new"), os.path.join(bad, "cur")):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    rcpts = ["alice@mailroom.test", "bob@mailroom.test", "alice@mailroom.test",
             "alice@mailroom.test"]
    paths = [activate(inst, submit(inst, [r], MESSAGE)) for r in rcpts]
    got = deliver_batch(inst, paths)
    ids = [os.path.basename(p) for p in paths]
    assert got[ids[1]][:2] == ("deferred", "4.2.0")
    assert "maildir delivery failed: open" in got[ids[1]][2]
    for i in (0, 2, 3):
        assert got[ids[i]] == ("sent", "2.0.0", "delivered to maildir")
    assert [done_marks(p)[r] for p, r in zip(paths, rcpts)] == [True, False, True, True]
    box = os.path.join(inst.mail, "mailroom.test", "alice")
    files = maildir_files(box)
    assert len(files) == 3 and len({delivered_by(f) for f in files}) == 1
    assert os.listdir(os.path.join(bad, "new")) == []


def test_forward_is_read_by_the_kept_child(user, mailroom):
    """The user's .forward is read in the same kept child that writes the
    Maildir: one process as the user for both steps, for every delivery."""
    inst = kept_agent(mailroom)
    home, rcpt = user.pw_dir, f"{user.pw_name}@localhost"
    fwd = os.path.join(home, ".forward")
    write(fwd, f'"|touch {home}/ran"\n', 0o664)     # ignored, with a warning from its reader
    os.chown(fwd, user.pw_uid, user.pw_gid)
    for _ in range(2):
        q = activate(inst, submit(inst, [rcpt], MESSAGE))
        assert deliver(inst, q)[rcpt] == ("sent", "2.0.0", "delivered to maildir")
    assert not os.path.exists(os.path.join(home, "ran"))
    files = maildir_files(os.path.join(home, "Maildir"))
    writers = {delivered_by(f) for f in files}
    assert len(files) == 2 and len(writers) == 1
    [pid] = writers
    readers = re.findall(r"mailroom/local\[(\d+)\]: .*warning: ignoring .*/\.forward: "
                         r"writable by group or others", inst.log_text())
    assert [int(p) for p in readers] == [pid, pid]
    assert os.stat(f"/proc/{pid}").st_uid == user.pw_uid
    # a long .forward (50 KB of the 64 KB allowed) comes back whole, in two
    # pieces: its last line counts
    write(fwd, "# padding padding padding padding padding\n" * 1200
          + f'"|touch {home}/last"\n', 0o644)
    os.chown(fwd, user.pw_uid, user.pw_gid)
    q = activate(inst, submit(inst, [rcpt], MESSAGE))
    assert deliver(inst, q)[rcpt][0] == "sent"
    assert os.path.exists(os.path.join(home, "last"))


def test_stopped_kept_child_does_not_stop_local(mailroom):
    """The kept child runs as the mailbox owner, who may stop it (SIGSTOP)
    while it waits for the next delivery. local used to wait for its
    answer without end: each local process that next delivered to that
    user stopped for good, and with them every later delivery. Now the
    answer is awaited local_child_time_limit: then the child is killed,
    the delivery deferred with a warning, and the next attempt delivers
    through a new child."""
    inst = kept_agent(mailroom, {"local_child_time_limit": "3s"})
    box = os.path.join(inst.mail, "mailroom.test", "alice")
    q = activate(inst, submit(inst, ["alice@mailroom.test"], MESSAGE))
    assert deliver(inst, q)["alice@mailroom.test"][0] == "sent"
    [child] = kept_children(inst)
    os.kill(child, signal.SIGSTOP)
    q = activate(inst, submit(inst, ["alice@mailroom.test"], MESSAGE))
    start = time.monotonic()
    got = deliver(inst, q, timeout=30)
    uid = pwd.getpwnam("mailroom").pw_uid if IS_ROOT else os.getuid()
    assert got["alice@mailroom.test"] == (
        "deferred", "4.3.0", f"delivery process for uid {uid} gave no answer in time")
    assert 2.5 < time.monotonic() - start < 20
    inst.wait_log(rf"local\[\d+\]: warning: delivery process {child} for uid {uid} gave no "
                  r"answer within local_child_time_limit \(3s\): killed")
    assert not os.path.exists(f"/proc/{child}")
    assert done_marks(q) == {"alice@mailroom.test": False}
    assert deliver(inst, q)["alice@mailroom.test"][0] == "sent"
    assert len(maildir_files(box)) == 2


def test_command_that_stops_its_step_does_not_stop_local(agent):
    """A command delivery runs in a child forked for the step and dropped
    to the user, and the command is that user's: it may stop its own
    parent (kill -STOP $PPID, from a .forward; here an alias). local used
    to wait for that child's answer without end, so each such message took
    a local process out for good. Now it waits local_child_time_limit (and
    command_time_limit for a command), then kills the child and defers."""
    inst = agent(extra={"local_child_time_limit": "2s", "command_time_limit": "2s"},
                 aliases='stopper: "|kill -STOP $PPID"\n')
    q = activate(inst, submit(inst, ["stopper@localhost", "bob@mailroom.test"], MESSAGE))
    start = time.monotonic()
    got = deliver(inst, q, timeout=30)
    uid = pwd.getpwnam("nobody").pw_uid if IS_ROOT else os.getuid()
    assert got["stopper@localhost"] == (
        "deferred", "4.3.0", f"delivery process for uid {uid} gave no answer in time")
    assert got["bob@mailroom.test"] == ("sent", "2.0.0", "delivered to maildir")
    assert 3.5 < time.monotonic() - start < 20
    m = inst.wait_log(rf"local\[\d+\]: warning: delivery process (\d+) for uid {uid} gave no "
                      r"answer within 4s: killed")
    assert not os.path.exists(f"/proc/{m.group(1)}")
    assert done_marks(q) == {"stopper@localhost": False, "bob@mailroom.test": True}


def test_a_refused_request_does_not_end_its_batch(agent):
    """A request of a batch that local refuses (here: its queue file is not
    in active/; a corrupt file is refused the same way) is answered at
    once. local used to stop reading the batch there: the requests after
    it went unanswered and qmgr deferred those messages for a retry.
    Now every request of the batch is read and answered."""
    inst = agent()
    paths = [submit(inst, ["alice@mailroom.test"], MESSAGE) for _ in range(3)]
    paths[0], paths[2] = activate(inst, paths[0]), activate(inst, paths[2])
    replies = deliver_batch(inst, paths)   # the second one is still in incoming/
    ids = [os.path.basename(p) for p in paths]
    assert sorted(replies) == sorted(ids), replies
    assert replies[ids[0]][0] == replies[ids[2]][0] == "sent"
    assert replies[ids[1]] == ("deferred", "4.3.5", "invalid delivery request")
    assert len(maildir_files(os.path.join(inst.mail, "mailroom.test", "alice"))) == 2
