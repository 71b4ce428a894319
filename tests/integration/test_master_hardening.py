"""test_master_hardening.py - master against a hostile mail owner, and
availability when processes die.

Root never follows a link in a directory the mail owner can write: each
case plants the link as the `mailroom` user (setpriv), points it at a
root-owned victim file, runs master as root, and shows the victim
untouched, byte for byte, with its owner and mode. The other tests kill
processes (smtpd, master) and show the service keeps answering.
"""
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

import killing
from conftest import IS_ROOT, free_port, wait_port
from test_master import children, wait_until, write_master_conf
from test_smtpd import Client, all_queued, queued_id

needs_root = pytest.mark.skipif(not IS_ROOT, reason="root plants nothing for itself")

VICTIM_TEXT = b"root's file: must never change\n"


class Victim:
    """A root-owned file outside the instance that a link will point at."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailroom-victim-")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "victim")
        with open(self.path, "wb") as f:
            f.write(VICTIM_TEXT)
        os.chmod(self.path, 0o640)
        self.before = os.stat(self.path)

    def assert_untouched(self):
        st = os.stat(self.path)
        assert open(self.path, "rb").read() == VICTIM_TEXT
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (
            self.before.st_uid, self.before.st_gid, stat.S_IMODE(self.before.st_mode))
        assert st.st_ino == self.before.st_ino


def owner_ids():
    pw = pwd.getpwnam("mailroom")
    return pw.pw_uid, pw.pw_gid


def as_owner(args, **kw):
    """Run a command as the mail owner (what a captured daemon could do)."""
    uid, gid = owner_ids()
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
                          + list(args), capture_output=True, **kw)


def plant(link, target):
    r = as_owner(["ln", "-sfn", target, link])
    assert r.returncode == 0, r.stderr
    assert os.readlink(link) == target


def smtp_banner(port, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        return s.recv(1000)


@needs_root
def test_state_files_never_follow_links(mailroom):
    """master.pid and master.status are root's, in a root-owned pid/; links
    the mail owner plants in its own data_directory, or in an old pid/ it
    owned, reach nothing."""
    victim = Victim()
    inst = mailroom()
    inst.stop()
    uid, _ = owner_ids()
    pid_dir = os.path.join(inst.spool, "pid")
    st = os.stat(pid_dir)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o755)
    # the mail owner cannot plant anything in root's pid/ ...
    r = as_owner(["ln", "-s", victim.path, os.path.join(pid_dir, "master.status.tmp")])
    assert r.returncode != 0 and b"Permission denied" in r.stderr
    # ... and what it plants in its data_directory is not master's business
    data = os.path.join(inst.dir, "data")
    os.chown(data, uid, uid)                # as master makes it in production
    for name in ("master.pid", "master.status", "master.status.tmp"):
        plant(os.path.join(data, name), victim.path)
    # an older pid/ that belonged to the mail owner, full of links
    os.chown(pid_dir, uid, uid)
    os.chmod(pid_dir, 0o700)
    for name in ("master.pid", "master.status", "master.status.tmp"):
        plant(os.path.join(pid_dir, name), victim.path)

    inst.start()
    assert smtp_banner(inst.ports["smtp"]).startswith(b"220 ")
    status = os.path.join(pid_dir, "master.status")
    wait_until(lambda: os.path.isfile(status) and not os.path.islink(status))
    r = inst.run(["mailroom", "status"])
    assert r.returncode == 0 and b"running (master pid %d)" % inst.proc.pid in r.stdout
    st = os.stat(pid_dir)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o755)
    assert os.lstat(os.path.join(pid_dir, "master.pid")).st_uid == 0
    inst.wait_log(r"warning: \S+/pid: owner \d+:\d+ mode 0700, expected 0:0 mode 0755 \(fixed\)")
    inst.stop()
    victim.assert_untouched()
    for name in ("master.pid", "master.status", "master.status.tmp"):
        assert os.readlink(os.path.join(data, name)) == victim.path


RACER = r"""
import os, sys, time
victim, pub, names, stop = sys.argv[1], sys.argv[2], sys.argv[3].split(","), float(sys.argv[4])
n = 0
while time.time() < stop:
    for name in names:
        tmp = os.path.join(pub, ".racer%d" % n)
        n += 1
        try:
            os.symlink(victim, tmp)
            os.rename(tmp, os.path.join(pub, name))
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
print(n)
"""


@needs_root
def test_socket_files_never_follow_links(mailroom):
    """While master binds, removes and creates sockets and FIFOs in public/
    and private/ (start, reloads), the mail owner keeps swapping links to a
    root file in under their names: the file keeps its bytes, owner, mode."""
    victim = Victim()
    inst = mailroom(start=False)
    names = [f"race{i}" for i in range(6)]

    def conf(gen):
        lines = []
        for i, name in enumerate(names):
            kind = "fifo" if i % 3 == 2 else "unix"
            private = "y" if i % 2 else "n"
            if (i + gen) % 2 == 0:
                lines.append(f"{name} {kind} {private} y n - 1 testechod")
        return lines

    write_master_conf(inst, conf(0))
    inst.start(wait=False)
    inst.wait_log(r"master\[\d+\]: daemon started")
    stop_at = time.time() + 6
    racers = [subprocess.Popen(
        ["setpriv", f"--reuid={owner_ids()[0]}", f"--regid={owner_ids()[1]}", "--clear-groups",
         "/usr/bin/python3", "-c", RACER, victim.path, os.path.join(inst.spool, where),
         ",".join(names), str(stop_at)], stdout=subprocess.PIPE)
        for where in ("public", "private")]
    gen = 0
    while time.time() < stop_at - 0.5:
        gen += 1
        write_master_conf(inst, conf(gen))
        r = inst.run(["mailroom", "reload"])
        assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
        time.sleep(0.05)
    for p in racers:
        assert int(p.communicate(timeout=30)[0]) > 100
    assert inst.proc.poll() is None, inst.log_text()[-2000:]   # master survived
    inst.stop()
    assert gen > 20
    victim.assert_untouched()


@needs_root
def test_queue_directory_link_is_not_followed(mailroom):
    """A queue directory the mail owner replaced with a link (possible when
    the queue directory itself was left writable to it): master refuses to
    start and never chowns or chmods what the link points at."""
    victim = Victim()
    target = tempfile.mkdtemp(prefix="mailroom-victim-dir-")
    os.chmod(target, 0o755)
    before = os.stat(target)
    inst = mailroom()
    inst.stop()
    uid, gid = owner_ids()
    os.chown(inst.spool, uid, gid)
    hold = os.path.join(inst.spool, "hold")
    r = as_owner(["mv", hold, hold + ".old"])
    assert r.returncode == 0, r.stderr
    plant(hold, target)
    r = inst.run(["master", "-c", inst.conf_dir, "-f"])
    assert r.returncode == 1
    assert re.search(rb"fatal: \S+/hold exists and is not a directory \(links are not "
                     rb"followed\)", r.stderr)
    assert re.search(rb"warning: \S+/spool: owner %d mode 0755: it should belong to root"
                     % uid, r.stderr)
    st = os.stat(target)
    assert (st.st_uid, st.st_gid, st.st_mode) == (before.st_uid, before.st_gid, before.st_mode)
    victim.assert_untouched()


def smtpd_pids(inst):
    return killing.children(inst, ("smtpd",))


def test_killed_healthy_smtpds_do_not_throttle(mailroom):
    """Three smtpd processes that served clients are killed; the next client
    still gets its banner within a second (only processes that die before
    their first client count towards throttling)."""
    inst = mailroom()
    port = inst.ports["smtp"]
    clients = []
    for _ in range(3):
        c = Client(inst)
        assert c.reply()[0] == 220
        assert c.cmd("EHLO client.example")[0] == 250
        clients.append(c)
    pids = wait_until(lambda: len(smtpd_pids(inst)) >= 3 and smtpd_pids(inst))
    assert len(pids) == 3
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        inst.wait_log(rf"pid {pid} killed by signal 9")
    started = time.time()
    banner = smtp_banner(port, timeout=5)
    elapsed = time.time() - started
    assert banner.startswith(b"220 "), banner
    assert elapsed < 1.0, elapsed
    for c in clients:
        c.close()
    time.sleep(0.3)
    assert "throttling" not in inst.log_text()


def test_master_killed_with_client_connected(mailroom):
    """kill -9 master while a client is in a transaction: `mailroom start`
    says the old master is gone and starts at once (the orphaned smtpd let
    go of the listening socket), serves new clients, and the old client
    still gets its message queued."""
    inst = mailroom()
    port = inst.ports["smtp"]
    old_master = inst.proc.pid
    c = Client(inst)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.example")[0] == 250
    assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    os.kill(old_master, signal.SIGKILL)
    inst.proc.wait()
    try:
        r = inst.run(["mailroom", "start"])
        assert r.returncode == 0, r.stderr + r.stdout
        assert re.search(rb"mailroom: master pid %d is gone \(stale pid file \S+/pid/"
                         rb"master.pid\); starting a new one" % old_master, r.stderr), r.stderr
        m = re.search(rb"started the mail system \(master pid (\d+)\)", r.stderr)
        assert m and int(m.group(1)) != old_master, r.stderr
        assert b"Address already in use" not in r.stderr
        assert smtp_banner(port).startswith(b"220 ")
        # the old session goes on, through the new master's cleanup
        assert c.cmd("DATA")[0] == 354
        c.send("Subject: across a master crash\r\n\r\nstill here\r\n.\r\n")
        reply = c.reply()
        assert reply[0] == 250, reply
        qid = queued_id(reply)
        assert qid in all_queued(inst)
        assert c.cmd("QUIT")[0] == 221
        inst.wait_log(r"smtpd\[\d+\]: master is gone: exiting after the client")
    finally:
        inst.run(["mailroom", "stop"])


def test_status_after_crash_names_the_stale_pid(mailroom):
    inst = mailroom()
    old = inst.proc.pid
    os.kill(old, signal.SIGKILL)
    inst.proc.wait()
    r = inst.run(["mailroom", "status"])
    assert r.returncode == 1
    assert r.stdout == (b"mailroom: the mail system is not running (master pid %d is gone; "
                        b"stale pid file)\n" % old)
