"""test_security.py - attacks tried against a running system, each one
that worked once kept here as a regression test (docs/security.md lists
every attack tried, found or not).

As the mail owner: links planted in a directory `mailroom` can write,
for a root-run tool to follow. As a network client: the content filter's
port reached from an address that is not the filter's client. As a local
user: an :include: file someone else can write, listing a command.
"""
import errno
import fcntl
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from clamdtest import StandIn
from conftest import IS_ROOT, free_port, wait_port
import qrecords
from qrecords import fake_qid, hashed_path
from test_auth import smtps_auth
from test_local import MESSAGE, activate, agent, deliver, submit, tmp_path, user  # noqa: F401
from test_master_hardening import owner_ids, plant
from test_pop3d import LOGIN, Raw, tls_instance
from test_pop3d import deliver as pop3_deliver

needs_root = pytest.mark.skipif(not IS_ROOT, reason="root plants nothing for itself")

ROOTS_TEXT = b"root's file: must never change\n"


def roots_dir(names):
    """A directory of root's (0700) holding files with the given names."""
    d = tempfile.mkdtemp(prefix="mailroom-victim-")
    os.chmod(d, 0o700)
    for name in names:
        with open(os.path.join(d, name), "wb") as f:
            f.write(ROOTS_TEXT)
    return d


@needs_root
def test_quarantine_tool_as_root_follows_no_link(mailroom):
    """filterd_quarantine_directory in the mail owner's data_directory: the
    owner replaces it with a link to a directory of root's. Root's
    mailroom-quarantine used to see a directory not owned by the mail
    owner, stay root, and list, read and delete root's files there by
    name. It now always works as the mail owner, who cannot reach them."""
    inst = mailroom(start=False)
    uid, gid = owner_ids()
    data = os.path.join(inst.dir, "data")
    os.chown(data, uid, gid)
    os.chmod(data, 0o700)
    qdir = os.path.join(data, "quarantine")
    inst.set_conf(filterd_quarantine_directory=qdir)
    qid = fake_qid(7)
    victim = roots_dir([qid])
    try:
        plant(qdir, victim)
        r = inst.run(["mailroom-quarantine", "list"])
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert b"Permission denied" in r.stderr and qid.encode() not in r.stdout + r.stderr
        r = inst.run(["mailroom-quarantine", "show", qid])
        assert r.returncode == 1 and b"Permission denied" in r.stderr, r.stderr
        r = inst.run(["mailroom-quarantine", "delete", qid])
        assert r.returncode == 1 and b"Permission denied" in r.stderr, r.stderr
        assert open(os.path.join(victim, qid), "rb").read() == ROOTS_TEXT
    finally:
        shutil.rmtree(victim)


def banner_from(port, source):
    """The first reply of a server, to a client bound to source."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0)) as s:
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(1000)
            if not chunk:
                break
            data += chunk
        return data


def test_filterd_serves_only_its_client_networks(mailroom):
    """filterd re-injects whatever it is given on the re-injection port,
    which trusts it: reached from anywhere (a listener on 0.0.0.0) it was
    an open relay past smtpd's checks. A client outside
    filterd_client_networks now gets 554 at connect and a log line; one
    inside gets the greeting."""
    inst = mailroom(qmgr=True, ports={"reinject": free_port(), "filter": free_port()},
                    extra={"filterd_client_networks": "127.0.0.1/32"})
    port = inst.ports["filter"]
    assert wait_port(port)
    assert banner_from(port, "127.0.0.1").startswith(b"220 ")
    assert banner_from(port, "127.0.0.2") == b"554 5.7.1 mx.mailroom.test Error: access denied\r\n"
    inst.wait_log(r"filterd\[\d+\]: warning: client 127\.0\.0\.2 is not in "
                  r"filterd_client_networks: refused")


@needs_root
def test_include_file_others_can_write_runs_nothing(agent, user, tmp_path):
    """With commands and files allowed in :include: lists (not the
    default), a user's list that group or others may write (a mode set
    too wide): anyone could add a command to it, which local would run as
    the user. Such a list now gives addresses only; its commands and
    files bounce (5.7.1), with a warning in the log."""
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    listfile = tmp_path / "list"
    listfile.write_text(f'bob@mailroom.test\n"|id -u > {out}/ran"\n{out}/file\n')
    os.chown(listfile, user.pw_uid, user.pw_gid)
    os.chmod(listfile, 0o666)
    allow = "alias, forward, include"
    inst = agent(extra={"allow_mail_to_commands": allow, "allow_mail_to_files": allow},
                 aliases=f"team: :include:{listfile}\n")
    q = activate(inst, submit(inst, ["team@localhost"], MESSAGE))
    assert deliver(inst, q)["team@localhost"][:2] == ("bounced", "5.7.1")
    assert os.listdir(out) == []
    inst.wait_log(rf":include: file {listfile} is writable by group or others: "
                  r"mail to its commands and files is refused")
    # its address still gets the mail: in a list of several destinations it
    # is re-submitted through cleanup as a new message (docs/local.md)
    new = inst.wait_log(rf"{os.path.basename(q)}: forwarded as (\w+)").group(1)
    (path,) = [p for p in qrecords.files(inst.spool, "incoming") if p.endswith(new)]
    env = qrecords.envelope(qrecords.parse(open(path, "rb").read()))
    assert env["rcpts"] == [("bob@mailroom.test", False)]
    # the same list, 0644: the command runs, as the list's owner
    os.chmod(listfile, 0o644)
    q = activate(inst, submit(inst, ["team@localhost"], MESSAGE))
    assert deliver(inst, q)["team@localhost"][0] == "sent"
    assert open(out / "ran").read().strip() == str(user.pw_uid)
    assert os.stat(out / "file").st_uid == user.pw_uid


def test_auth_guessing_across_sessions_is_limited_by_default(mailroom):
    """One failed AUTH per session, session after session (the per-session
    limit never bites): with the shipped settings the eleventh AUTH within
    the minute from that address gets 421, the right password included,
    and no password is tried. smtpd_client_auth_rate_limit used to be 0
    (off) by default."""
    inst = mailroom(extra={"smtpd_sasl_failure_delay": "0"}, ports={"smtps": free_port()})
    fail = (535, "5.7.8 Error: authentication failed: authentication failure")
    for _ in range(10):
        assert smtps_auth(inst, "guess") == fail
    assert smtps_auth(inst, "alice-pw") == (
        421, "4.7.0 mx.mailroom.test Error: too many failed authentications per minute "
             "from 127.0.0.2")
    inst.wait_log(r"warning: AUTH failure rate limit exceeded: 10 from unknown\[127\.0\.0\.2\]")


def test_pop3d_login_has_a_deadline(mailroom):
    """A client that sends a byte now and then never goes idle, and one
    that opens the TLS port and never starts the handshake waits out the
    idle timeout: each kept a login process for as long as it liked, and
    enough of them used up the service. pop3d_login_timeout now ends both,
    counted from the connect; a client that logs in in time is not cut."""
    inst = tls_instance(mailroom, {"pop3d_login_timeout": "4s", "pop3d_timeout": "20s"})
    pop3_deliver(inst, 1)
    # the well-behaved client, which then stays past the login deadline
    r = Raw(inst.ports["pop3"])
    assert r.cmd(f"USER {LOGIN}") == b"+OK"
    assert r.cmd("PASS alice-pw").startswith(b"+OK Logged in")
    time.sleep(5)
    assert r.cmd("NOOP") == b"+OK"
    r.close()
    # the trickling client
    r = Raw(inst.ports["pop3"])
    start = time.monotonic()
    for b in b"USER alice\r\nPASS a-password-sent-one-byte-at-a-time":
        try:
            r.s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.15)
    assert r.line() == b"+OK"       # to USER
    assert r.line() == b"-ERR Login timeout, closing connection"
    assert r.closed() and time.monotonic() - start < 7
    r.close()
    inst.wait_log(r"session end: user=<>, client=127\.0\.0\.1, .*reason=login timeout")
    # the client that never starts TLS on the implicit-TLS port
    with socket.create_connection(("127.0.0.1", inst.ports["pop3s"]), timeout=10) as s:
        start = time.monotonic()
        assert s.recv(100) == b""
        assert time.monotonic() - start < 7


@needs_root
def test_bounce_log_as_the_mail_owner_without_roots_groups(agent):
    """local writes a bounce record as root with its effective ids switched
    to the mail owner, but it kept root's supplementary groups (master
    started from a root shell has group root): with a hash directory of
    bounce/ replaced by a link to a directory only group root may write,
    it created the record there. It now switches the groups too."""
    old = os.getgroups()
    os.setgroups([0])       # as a root login shell has them
    try:
        inst = agent(aliases="nouser: |exit 67\n")
    finally:
        os.setgroups(old)
    q = activate(inst, submit(inst, ["nouser@localhost"], MESSAGE))
    qid = os.path.basename(q)
    hashdir = os.path.dirname(hashed_path(inst.spool, "bounce", qid))
    assert not os.path.lexists(hashdir)
    victim = tempfile.mkdtemp(prefix="mailroom-victim-")
    os.chmod(victim, 0o770)             # root:root, writable by group root only
    try:
        plant(hashdir, victim)
        r = deliver(inst, q)
        assert os.listdir(victim) == []
        assert r["nouser@localhost"][0] == "deferred", r
    finally:
        shutil.rmtree(victim)


def lmtp_lines(sock, count, timeout):
    """count reply lines from sock (a list of them), or fewer at timeout"""
    sock.settimeout(timeout)
    data = b""
    try:
        while data.count(b"\r\n") < count:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data.split(b"\r\n")[:count]


def test_filterd_slow_reader_holds_no_worker(mailroom):
    """A client of filterd that stops reading after its dot: the worker
    used to write the replies to the client itself and wait up to a minute
    for room each time the socket was full, so a client that read a little
    now and then kept a worker for as long as it liked, and with
    filterd_worker_limit such clients held every worker while the others'
    messages waited. The worker now writes what the socket takes at once
    and hands the rest back to the session process, which queues it with
    the client's other output: the next client is answered at once, and
    the slow one still gets every reply, in order."""
    missing = "/tmp/mailroom-no-clamd-" + "x" * 150 + ".sock"  # long replies
    inst = mailroom(qmgr=True, ports={"reinject": free_port(), "filter": free_port()},
                    extra={"filterd_clamd_socket": missing, "filterd_worker_limit": "1",
                           "filterd_recipient_limit": "10000"})
    port = inst.ports["filter"]
    assert wait_port(port)
    count = 8000   # replies well beyond what the sockets hold (a few MB)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    try:
        assert lmtp_lines(slow, 1, 10)[0].startswith(b"220 ")
        slow.sendall(b"LHLO slow.test\r\n")
        assert lmtp_lines(slow, 7, 10)[-1] == b"250 DSN"
        slow.sendall(b"MAIL FROM:<carol@example.org>\r\n"
                     + b"RCPT TO:<alice@mailroom.test>\r\n" * count + b"DATA\r\n")
        got = lmtp_lines(slow, count + 2, 60)
        assert got[-1].startswith(b"354 "), got[-3:]
        slow.sendall(b"Subject: slow\r\n\r\nbody\r\n.\r\n")   # and reads nothing now
        time.sleep(1)
        start = time.monotonic()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.ehlo("next.test")
            s.mail("carol@example.org")
            s.rcpt("alice@mailroom.test")
            code, text = s.data(b"Subject: next\r\n\r\nbody\r\n")
        assert code == 451 and b"Virus scan failed" in text, (code, text)
        assert time.monotonic() - start < 10
        replies = lmtp_lines(slow, count, 60)
        assert len(replies) == count
        assert all(r.startswith(b"451 4.7.0 ") for r in replies), replies[:3]
    finally:
        slow.close()


# A local user's program for the attack on filterd's port: it opens COUNT
# connections, prints the first reply line each got within a few seconds,
# and waits for a line on its input; then it sends NOOP once a second on
# the sessions that were greeted and prints the next reply line each gets.
HOLDER = r'''
import select, socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(count):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    socks.append(s)
def first_lines(socks, seconds, ping=False):
    got, deadline, last = {}, time.monotonic() + seconds, 0
    while len(got) < len(socks) and time.monotonic() < deadline:
        if ping and time.monotonic() - last >= 1:
            last = time.monotonic()
            for s in socks:
                if s not in got:
                    try:
                        s.send(b"NOOP\r\n")
                    except OSError:
                        pass
        ready, _, _ = select.select([s for s in socks if s not in got], [], [], 0.2)
        for s in ready:
            try:
                data = s.recv(4096)
            except OSError:
                data = b"error"
            if not data:
                got[s] = "closed"
            for line in data.split(b"\r\n"):
                if line and not line.startswith(b"250 "):
                    got[s] = line.decode(errors="replace")
                    break
    return [got.get(s, "nothing") for s in socks]
lines = first_lines(socks, 5)
print("\n".join(lines), flush=True)
sys.stdin.readline()
greeted = [s for s, l in zip(socks, lines) if l.startswith("220 ")]
print("\n".join(first_lines(greeted, 30, ping=True)), flush=True)
'''


def as_nobody():
    """preexec: room for many descriptors, then become nobody"""
    import resource
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


@needs_root
def test_filterd_idle_connections_cost_their_client_only(mailroom):
    """A local user (nobody) opens 1000 connections to filterd's port and
    says nothing. Each filterd process stops accepting after max_use
    clients and lives until its last one has gone, and the service has
    10 processes: the connections used to leave no process accepting, and
    mail through the filter waited as long as they were held. Now the
    user holds filterd_client_connection_limit sessions (10) and every
    further connection gets 421 4.7.0 at once, with a log line; mail
    through the filter (the mail owner's transport, not counted) passes
    meanwhile; and a session that brings no message within
    filterd_message_timeout is dropped with 421 4.4.2, however many NOOPs
    it sends."""
    inst = mailroom(qmgr=True, ports={"reinject": free_port(), "filter": free_port()},
                    extra={"filterd_message_timeout": "8s", "filterd_pass_unscanned": "yes",
                           "filterd_clamd_socket": "/tmp/mailroom-no-clamd.sock",
                           "queue_run_delay": "1s", "minimal_backoff_time": "1s",
                           "maximal_backoff_time": "2s"})
    port = inst.ports["filter"]
    assert wait_port(port)
    holder = subprocess.Popen(["/usr/bin/python3", "-c", HOLDER, str(port), "1000"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              preexec_fn=as_nobody)
    try:
        lines = [holder.stdout.readline().rstrip("\n") for _ in range(1000)]
        greeted = [line for line in lines if line.startswith("220 ")]
        refused = [line for line in lines if line.startswith("421 4.7.0 ")]
        assert len(greeted) == 10 and len(refused) == 990, \
            (lines[:12], [line for line in lines if not line.startswith(("220 ", "421 "))][:5])
        assert refused[0] == ("421 4.7.0 mx.mailroom.test Error: too many connections "
                              "from 127.0.0.1 (uid 65534)")
        inst.wait_log(r"filterd\[\d+\]: warning: Connection concurrency limit exceeded: 11 "
                      r"from 127\.0\.0\.1 \(uid 65534\) for service 127\.0\.0\.1:\d+")
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.sendmail("carol@example.org", ["alice@mailroom.test"],
                       b"Subject: through the filter\r\n\r\nbody\r\n")
        new = os.path.join(inst.mail, "mailroom.test", "alice", "new")
        deadline = time.time() + 30
        while time.time() < deadline and not (os.path.isdir(new) and os.listdir(new)):
            time.sleep(0.1)
        assert os.path.isdir(new) and os.listdir(new), inst.log_text()[-3000:]
        holder.stdin.write("go\n")
        holder.stdin.flush()
        after = [holder.stdout.readline().rstrip("\n") for _ in range(10)]
        assert after == ["421 4.4.2 mx.mailroom.test Error: timeout exceeded"] * 10, after
        inst.wait_log(r"filterd\[\d+\]: timeout: no message from 127\.0\.0\.1 within "
                      r"filterd_message_timeout \(8s\)")
    finally:
        holder.kill()
        holder.wait()


# A command for the attack on the queue file: it writes to every descriptor
# it has, and through every /proc/self/fd name, says who its parent is, and
# waits for the test to look at that parent.
NOSY_COMMAND = r'''#!/bin/sh
out=%s
for f in /proc/self/fd/*; do
    n=${f##*/}
    (eval "printf GARBAGE >&$n") 2>/dev/null
    (printf GARBAGE >> "$f") 2>/dev/null
done
echo $PPID > "$out/ppid.tmp" && mv "$out/ppid.tmp" "$out/ppid"
while [ ! -e "$out/go" ]; do sleep 0.05; done
cat > /dev/null
exit 0
'''


def open_fds(pid):
    """{fd: (target, access mode)} of a process, as root sees them"""
    fds = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            flags = [line for line in open(f"/proc/{pid}/fdinfo/{name}")
                     if line.startswith("flags:")][0]
        except (FileNotFoundError, IndexError):
            continue
        fds[int(name)] = (target, int(flags.split()[1], 8) & os.O_ACCMODE)
    return fds


@needs_root
def test_command_gets_no_writable_queue_file(agent, tmp_path):
    """A |command (run as default_privs for a root alias) writes to every
    descriptor it has and through /proc/self/fd: the queue file is
    unchanged. Its parent, the child local forked and dropped to that
    user, used to hold the queue file open read-write, and local's other
    descriptors (master's listening socket, the delivery client's
    socket): code of ours working on the user's files as that user had
    them all. It now holds the queue file read-only, its result pipe and
    the log, nothing else."""
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    script = tmp_path / "nosy"
    script.write_text(NOSY_COMMAND % out)
    os.chmod(script, 0o755)
    inst = agent(aliases=f"nosy: |{script}\n")
    q = activate(inst, submit(inst, ["nosy@localhost"], MESSAGE))
    before = open(q, "rb").read()
    result = {}
    runner = threading.Thread(target=lambda: result.update(deliver(inst, q)))
    runner.start()
    try:
        deadline = time.time() + 30
        while not (out / "ppid").exists() and time.time() < deadline:
            time.sleep(0.05)
        pid = int((out / "ppid").read_text())
        for _ in range(3):   # up from "sh -c COMMAND" to local's child
            if open(f"/proc/{pid}/comm").read().strip() == "local":
                break
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        assert open(f"/proc/{pid}/comm").read().strip() == "local"
        fds = open_fds(pid)
        assert open(q, "rb").read() == before
        real = os.path.realpath(q)
        queue = [mode for target, mode in fds.values() if target == real]
        assert queue and set(queue) == {os.O_RDONLY}, fds
        assert [t for t, _m in fds.values() if t.startswith("socket:")] == [], fds
    finally:
        (out / "go").touch()
        runner.join(60)
    assert result["nosy@localhost"][0] == "sent", result


class HostileClamd(StandIn):
    """A clamd that has been taken over by a message it parsed: it keeps
    the descriptor FILDES hands it, writes into it, and says OK. A stand-in
    for the real clamd, which cannot be made to misbehave on purpose."""

    def __init__(self, d):
        self.modes, self.writes = [], []
        super().__init__(d, "hostile", threaded=False)

    def one(self, conn):
        with conn:
            cmd = self.command(conn)
            if cmd != b"zFILDES\0":
                if cmd is not None:
                    conn.sendall(b"UNKNOWN COMMAND\0")
                return
            _, fds, _, _ = socket.recv_fds(conn, 1, 1)
            fd = fds[0]
            self.modes.append(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE)
            try:
                self.writes.append(os.pwrite(fd, b"X-Evil: changed after the scan\r\n", 0))
            except OSError as e:
                self.writes.append(e.errno)
            conn.sendall(b"fd[%d]: OK\0" % fd)
            os.close(fd)


def test_clamd_gets_a_read_only_descriptor(mailroom):
    """filterd hands clamd the spool file's descriptor (FILDES). It was
    filterd's own read-write descriptor of a file that later messages
    reuse: a clamd taken over by what it parses could change this message
    after its verdict, or any later one. clamd now gets a read-only
    descriptor: its write fails and the message arrives as sent."""
    d = tempfile.mkdtemp(prefix="mailroom-hostile-clamd-", dir="/tmp")
    os.chmod(d, 0o755)
    clamd = HostileClamd(d)
    try:
        inst = mailroom(qmgr=True, ports={"reinject": free_port(), "filter": free_port()},
                        extra={"filterd_clamd_socket": clamd.sock})
        body = b"Subject: scanned\r\n\r\nthe body as sent\r\n"
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.sendmail("carol@example.org", ["alice@mailroom.test"], body)
        new = os.path.join(inst.mail, "mailroom.test", "alice", "new")
        deadline = time.time() + 30
        while time.time() < deadline and not (os.path.isdir(new) and os.listdir(new)):
            time.sleep(0.1)
        assert os.path.isdir(new) and os.listdir(new), inst.log_text()[-3000:]
        (name,) = os.listdir(new)
        data = open(os.path.join(new, name), "rb").read()
        assert clamd.modes == [os.O_RDONLY]
        assert clamd.writes == [errno.EBADF]
        assert b"X-Evil" not in data and data.endswith(b"\nthe body as sent\n")
    finally:
        clamd.close()
        shutil.rmtree(d, ignore_errors=True)


@needs_root
def test_include_list_cannot_take_the_place_of_an_alias_command(agent, user, tmp_path):
    """With commands allowed in :include: lists (not the default), an alias
    names a command (run as default_privs) and a user's list that names
    the very same command line. local delivered a command line once per
    recipient whoever it ran as, so the user's entry, met first, ran as
    the user and the alias's own never ran: a user could take the place
    of the administrator's command (an archive, a ticket system). Each
    now runs, as its own user."""
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    command = f'id -u > {out}/ran.$(id -u)'
    listfile = tmp_path / "list"
    listfile.write_text(f'"|{command}"\n')
    os.chown(listfile, user.pw_uid, user.pw_gid)
    allow = "alias, forward, include"
    inst = agent(extra={"allow_mail_to_commands": allow},
                 aliases=f'team: :include:{listfile}, "|{command}"\n')
    q = activate(inst, submit(inst, ["team@localhost"], MESSAGE))
    assert deliver(inst, q)["team@localhost"][0] == "sent"
    nobody = pwd.getpwnam("nobody").pw_uid
    assert sorted(os.listdir(out)) == sorted([f"ran.{user.pw_uid}", f"ran.{nobody}"])
