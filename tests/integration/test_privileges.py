"""test_privileges.py - who each process runs as, started by root or not.

Started by root, master stays root and every child drops to mail_owner
(and chroots where master.conf says). Started by an ordinary user,
everything runs as that user. Uses the test-only echo daemon (testechod).
"""
import os
import pwd
import re
import subprocess

import pytest

from conftest import IS_ROOT, free_port, wait_port
from test_master import children, echo_pid, wait_until, write_master_conf


def proc_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid line")


@pytest.mark.skipif(not IS_ROOT, reason="needs root to show the privilege drop")
def test_root_start_drops_children_to_mail_owner_and_chroots(mailroom):
    port = free_port()
    inst = mailroom(start=False)
    write_master_conf(inst, [f"127.0.0.1:{port} inet n y y - 2 testechod",
                             "trig unix n y n 60 1 testtrigd"])
    inst.start(wait=False)
    assert wait_port(port), inst.log_text()[-2000:]
    child = echo_pid(port)
    mailroom_uid = pwd.getpwnam("mailroom").pw_uid
    assert proc_uid(inst.proc.pid) == 0
    assert proc_uid(child) == mailroom_uid
    assert os.readlink(f"/proc/{child}/root") == os.path.realpath(inst.spool)
    # a child caught between fork and exec still shows master's command line,
    # and one that has just exec'd is still root in its privileged pre_init
    def dropped():
        kids = {pid: cmd for pid, cmd in children(inst.proc.pid).items()
                if "/master " not in cmd}
        try:
            ok = kids and all(proc_uid(pid) == mailroom_uid for pid in kids)
        except OSError:                     # one exited meanwhile: look again
            ok = False
        return kids if ok else None
    assert wait_until(dropped)
    # the queue directories belong to the mail owner
    assert os.stat(os.path.join(inst.spool, "incoming")).st_uid == mailroom_uid


@pytest.mark.skipif(not IS_ROOT, reason="needs root to play an ordinary user")
def test_ordinary_user_start_runs_everything_as_that_user(mailroom):
    port = free_port()
    inst = mailroom(start=False)
    write_master_conf(inst, [f"127.0.0.1:{port} inet n y n - 2 testechod"])
    nobody = pwd.getpwnam("nobody")
    for root, dirs, files in os.walk(inst.dir):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), nobody.pw_uid, nobody.pw_gid)
    os.chown(inst.dir, nobody.pw_uid, nobody.pw_gid)
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
         "--clear-groups", inst.bin("master"), "-c", inst.conf_dir, "-f"],
        env=inst.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    inst.proc = proc
    assert wait_port(port), inst.log_text()[-2000:]
    child = echo_pid(port)
    assert proc_uid(proc.pid) == nobody.pw_uid
    assert proc_uid(child) == nobody.pw_uid
    assert os.stat(os.path.join(inst.spool, "incoming")).st_uid == nobody.pw_uid


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]
    raise AssertionError(f"no {field} line")


CHROOTED = {"smtpd", "cleanup", "pickup", "showq", "anvil", "qmgr"}
NOT_CHROOTED = {"tabled", "local"}      # reopens rebuilt tables; reaches users' homes


@pytest.mark.skipif(not IS_ROOT, reason="needs root to chroot")
def test_shipped_daemons_run_chrooted(mailroom):
    """The daemons of the shipped master.conf, carrying a real message:
    each one that can is chrooted into the queue directory (its
    /proc/PID/root), as mail_owner, with no_new_privs; they still log (the
    log file was opened before the drop) and still deliver."""
    import smtplib
    inst = mailroom(qmgr=True)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("chroot@example.org", ["alice@mailroom.test"],
                   b"Subject: chroot\r\n\r\nfrom the jail\r\n")
    m = inst.wait_log(r"(\w+): to=<alice@mailroom\.test>, relay=local, .*status=sent", timeout=30)
    qid = m.group(1)
    log = inst.log_text()
    for daemon in ("smtpd", "cleanup", "qmgr"):   # a line about the message from each
        assert re.search(rf"mailroom/{daemon}\[\d+\]: {qid}: ", log), daemon
    spool = os.path.realpath(inst.spool)
    mailroom_uid = pwd.getpwnam("mailroom").pw_uid
    seen = {}
    for pid, cmd in children(inst.proc.pid).items():
        name = os.path.basename(cmd.split()[0]) if cmd else ""
        try:
            seen[name] = (os.readlink(f"/proc/{pid}/root"), proc_uid(pid),
                          proc_status(pid, "NoNewPrivs"))
        except OSError:
            continue                          # exited meanwhile
    assert {"smtpd", "cleanup", "pickup", "qmgr", "local"} <= seen.keys(), seen
    for name, (root, uid, nnp) in seen.items():
        if name in CHROOTED:
            assert (root, uid, nnp) == (spool, mailroom_uid, "1"), (name, root, uid, nnp)
        elif name in NOT_CHROOTED:
            assert root == "/", (name, root)
