"""test_qmgr_wakeup.py - how qmgr learns of new mail.

cleanup wakes qmgr with a wake-up that names the message it has just
committed ("W" + queue ID + newline on public/qmgr), and qmgr takes that
file alone instead of scanning incoming/. A plain wake-up, the master.conf
timer (60 s in the test instances) and a catch-up scan at most a second
after a named wake-up find everything else. These tests stay well under the
60 s timer, so what they see is the wake-up path, not the timer.
"""
import os
import pwd
import re
import socket
import subprocess

import qrecords
from conftest import IS_ROOT
from test_qmgr import agent_instance, delivered, send, wait_until


def plant(inst, qid, rcpt):
    """A committed (ready) queue file in incoming/, as cleanup leaves it."""
    data = qrecords.message("s@example.org", [rcpt], ["Subject: planted", "", "body"])
    path = qrecords.hashed_path(inst.spool, "incoming", qid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.chmod(path + ".tmp", 0o700)
    if IS_ROOT:
        pw = pwd.getpwnam("mailroom")
        os.chown(os.path.dirname(path), pw.pw_uid, pw.pw_gid)
        os.chown(path + ".tmp", pw.pw_uid, pw.pw_gid)
    os.rename(path + ".tmp", path)
    return path


def wake(inst, data):
    """Write a trigger to public/qmgr, as any local user may."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(os.path.join(inst.spool, "public", "qmgr"))
        s.sendall(data)


def reservations(inst):
    out = []
    for root, _dirs, names in os.walk(os.path.join(inst.spool, "incoming")):
        out += [os.path.join(root, n) for n in names if qrecords.reservation(os.path.join(root, n))]
    return out


def test_named_wakeup_delivers_each_message_once(mailroom):
    inst = agent_instance(mailroom)
    for i in range(10):
        send(inst, [f"n{i}@x.example"])
    for i in range(10):
        # the agent writes its file before the delivery library logs the line
        inst.wait_log(rf"to=<n{i}@x\.example>, relay=testagent, .*status=sent", timeout=20)
        assert len(delivered(inst, f"n{i}@x.example")) == 1
    log = inst.log_text()
    for i in range(10):
        assert log.count(f"to=<n{i}@x.example>, relay=testagent") == 1


def test_named_wakeup_leaves_reservations_alone(mailroom):
    """A wake-up naming a file that is not ready (a reservation cleanup will
    write into) must not take it: the message later written there would be
    stranded in active/."""
    inst = agent_instance(mailroom)
    send(inst, ["first@x.example"])
    wait_until(lambda: reservations(inst), what="a reserved queue file")
    for path in reservations(inst):
        wake(inst, b"W" + os.path.basename(path).encode() + b"\n")
    for i in range(20):
        send(inst, [f"later{i}@x.example"])
    for i in range(20):
        wait_until(lambda: len(delivered(inst, f"later{i}@x.example")) == 1,
                   what=f"later{i} delivered")
    # not ready in active/ for a moment is a finished file being recycled
    # (docs/queue.md, C3-C5); a stranded one would stay
    wait_until(lambda: [n for _r, _d, names in os.walk(os.path.join(inst.spool, "active"))
                        for n in names] == [], what="empty active/")


def test_lost_wakeup_caught_up_by_next_named_one(mailroom):
    """A file whose wake-up never came is taken by the scan that follows any
    named wake-up (here one naming a message that does not exist)."""
    inst = agent_instance(mailroom)
    plant(inst, qrecords.fake_qid(7), "planted@x.example")
    wake(inst, b"W" + qrecords.fake_qid(8).encode() + b"\n")
    wait_until(lambda: len(delivered(inst, "planted@x.example")) == 1, timeout=30,
               what="planted message delivered")


def test_plain_and_garbled_wakeups_scan(mailroom):
    inst = agent_instance(mailroom)
    plant(inst, qrecords.fake_qid(9), "plain@x.example")
    wake(inst, b"W\x00" + b"Z" * 40 + b"W12\n")
    wait_until(lambda: len(delivered(inst, "plain@x.example")) == 1, timeout=30,
               what="planted message delivered")
    send(inst, ["after@x.example"])
    wait_until(lambda: len(delivered(inst, "after@x.example")) == 1, what="next message")


def test_files_that_found_no_room_are_taken_when_room_is_made(mailroom):
    """With room for one message in memory, files waiting in incoming/ are
    taken as soon as the one in memory is done, not at the next timer tick."""
    inst = agent_instance(mailroom, {"qmgr_message_active_limit": "1"})
    for i in range(6):
        plant(inst, qrecords.fake_qid(20 + i), f"room{i}@x.example")
    wake(inst, b"W")
    for i in range(6):
        wait_until(lambda: len(delivered(inst, f"room{i}@x.example")) == 1, timeout=30,
                   what=f"room{i} delivered")
    for i in range(6):
        send(inst, [f"smtp{i}@x.example"])
    for i in range(6):
        wait_until(lambda: len(delivered(inst, f"smtp{i}@x.example")) == 1, timeout=30,
                   what=f"smtp{i} delivered")


def public_qmgr(inst):
    return os.path.join(inst.spool, "public", "qmgr")


def closed_within(sock, seconds):
    """True if the peer closes sock within seconds (what it sent is read)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(64):
            pass
    except socket.timeout:
        return False
    except OSError:
        pass
    return True


def test_trigger_slots_taken_new_mail_still_goes(mailroom):
    """qmgr keeps at most 128 trigger connections, each for 60 s of
    silence. Whoever may connect to public/qmgr can take them all and hold
    them with a newline now and then: the mail owner (root here stands for
    it); not a local user, who can reach that directory only through the
    set-gid tools, which send one byte without a newline and so are never
    kept. cleanup's own connection is then not kept, but a named wake-up
    is handed to qmgr as soon as it is read: new mail still goes at once,
    long before the 60 s timer of the test instances."""
    inst = agent_instance(mailroom)
    held = []
    try:
        for _ in range(128):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(public_qmgr(inst))
            s.sendall(b"\n")
            held.append(s)
        extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        extra.connect(public_qmgr(inst))
        extra.sendall(b"\n")
        assert closed_within(extra, 10), "a 129th trigger connection was kept"
        extra.close()
        assert not closed_within(held[-1], 2), "a kept trigger connection was closed"
        for i in range(5):
            send(inst, [f"slots{i}@x.example"])
            wait_until(lambda: len(delivered(inst, f"slots{i}@x.example")) == 1, timeout=30,
                       what=f"slots{i} delivered with every kept slot taken")
        if IS_ROOT:   # a local user cannot reach public/qmgr at all
            r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                "/usr/bin/python3", "-c",
                                "import socket, sys; s = socket.socket(socket.AF_UNIX); "
                                f"s.connect({public_qmgr(inst)!r})"],
                               capture_output=True)
            assert r.returncode != 0 and b"PermissionError" in r.stderr, r.stderr
    finally:
        for s in held:
            s.close()


def test_no_trigger_at_all_the_timer_scan_finds_new_mail(mailroom):
    """With public/qmgr gone (the mail owner may remove it), no wake-up
    reaches qmgr: the scan of incoming/ on the master.conf timer (5 s
    here) finds new mail all the same."""
    inst = agent_instance(mailroom)
    inst.stop()
    path = os.path.join(inst.conf_dir, "master.conf")
    text, n = re.subn(r"(?m)^(qmgr\s+unix\s+n\s+y\s+y\s+)60(\s)", r"\g<1>5\2",
                      open(path).read())
    assert n == 1
    open(path, "w").write(text)
    inst.start()
    os.unlink(public_qmgr(inst))
    send(inst, ["timer@x.example"])
    wait_until(lambda: len(delivered(inst, "timer@x.example")) == 1, timeout=30,
               what="the timer's scan took the message")
