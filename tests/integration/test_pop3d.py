"""test_pop3d.py - POP3 against mailboxes filled by real deliveries:
smtpd -> cleanup -> qmgr -> local -> Maildir, then pop3d, driven with
Python's poplib and with a raw socket where the exact bytes matter.

What a user sees: the replies (+OK/-ERR with RFC 2449 codes), the bytes of
RETR, UIDL values that do not change between sessions, messages that are
deleted only by a QUIT, the [IN-USE] refusal of a second session, and the
log line of each session.
"""
import base64
import grp
import os
import poplib
import pwd
import re
import smtplib
import ssl
import socket
import subprocess
import time

import mkinstance
from conftest import free_port, wait_port

FAST_RETRY = {"queue_run_delay": "1s", "minimal_backoff_time": "1s",
              "maximal_backoff_time": "2s"}
ALICE = "alice@mailroom.test"
LOGIN = "alice"                 # the SASL user (sasldb) of that mailbox
BODY = ("From: s@example.org\r\nTo: alice@mailroom.test\r\nSubject: pop {n}\r\n"
        "Message-ID: <pop{n}@example.org>\r\n\r\nfirst line\r\n..leading dot\r\n"
        ".\r\nlast line {n}\r\n")


def instance(mailroom):
    inst = mailroom(extra=FAST_RETRY, qmgr=True, ports={"pop3": free_port()})
    assert wait_port(inst.ports["pop3"])
    return inst


def deliver(inst, n, to=ALICE):
    """n messages through SMTP, waiting until local wrote each."""
    before = len(re.findall(rf"to=<{re.escape(to)}>, relay=local, .*status=sent", inst.log_text()))
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        for i in range(n):
            s.sendmail("s@example.org", [to], BODY.format(n=i))
    deadline = time.time() + 30
    while time.time() < deadline:
        got = len(re.findall(rf"to=<{re.escape(to)}>, relay=local, .*status=sent",
                             inst.log_text()))
        if got >= before + n:
            return
        time.sleep(0.05)
    raise AssertionError(inst.log_text()[-3000:])


def maildir(inst, user="alice"):
    return os.path.join(inst.mail, "mailroom.test", user)


def files(inst, user="alice"):
    d = maildir(inst, user)
    return sorted(os.path.join(d, sub, n) for sub in ("new", "cur")
                  for n in os.listdir(os.path.join(d, sub)))


def login(inst, user=LOGIN, pw="alice-pw"):
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    p.user(user)
    p.pass_(pw)
    return p


class Raw:
    """A POP3 client on a socket that keeps every byte."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        assert self.line().startswith(b"+OK")

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                out, self.buf = self.buf, b""
                return out
            self.buf += data
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.line()

    def multi(self):
        while b"\r\n.\r\n" not in self.buf:
            data = self.s.recv(65536)
            assert data, self.buf
            self.buf += data
        out, self.buf = self.buf.split(b"\r\n.\r\n", 1)
        return out + b"\r\n.\r\n"

    def closed(self):
        """Has the server hung up? (A reset too: it closed with our bytes unread.)"""
        try:
            return self.line() == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


def test_retr_byte_exact(mailroom):
    inst = instance(mailroom)
    deliver(inst, 1)
    stored = open(files(inst)[0], "rb").read()
    assert b"\r\n" not in stored            # the Maildir holds LF line ends
    wire = stored.replace(b"\n", b"\r\n")
    stuffed = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln
                           for ln in wire.split(b"\r\n"))
    r = Raw(inst.ports["pop3"])
    assert r.cmd(f"USER {LOGIN}") == b"+OK"
    assert r.cmd("PASS alice-pw").startswith(b"+OK Logged in, 1 messages")
    assert r.cmd("STAT") == b"+OK 1 %d" % len(wire)
    assert r.cmd("LIST 1") == b"+OK 1 %d" % len(wire)
    assert r.cmd("RETR 1") == b"+OK %d octets" % len(wire)
    assert r.multi() == stuffed + b".\r\n"
    assert b"\r\n...leading dot\r\n..\r\n" in stuffed
    assert r.cmd("TOP 1 1") == b"+OK %d octets" % len(wire)
    head = wire.split(b"\r\n\r\n", 1)[0]
    assert r.multi() == head + b"\r\n\r\nfirst line\r\n.\r\n"
    assert r.cmd("QUIT") == b"+OK Bye"
    r.close()
    inst.wait_log(rf"pop3d\[\d+\]: session end: user=<{LOGIN}>, client=127\.0\.0\.1, "
                  rf"retr=1/{len(stuffed)}, top=1/\d+, dele=0/0, reason=quit")
    # poplib undoes the stuffing: the user gets the stored lines back
    p = login(inst)
    assert p.retr(1)[1] == stored.rstrip(b"\n").split(b"\n")
    p.quit()


def test_uidl_stable_across_sessions(mailroom):
    inst = instance(mailroom)
    deliver(inst, 2)
    p = login(inst)
    first = p.uidl()[1]
    p.quit()
    assert len(first) == 2 and len(set(u.split()[1] for u in first)) == 2
    deliver(inst, 1)
    p = login(inst)
    second = p.uidl()[1]
    assert second[:2] == first
    assert p.uidl(3).split()[2] not in [u.split()[1] for u in first]
    p.quit()
    # every file was taken into cur/ by the first session that saw it
    assert all("/cur/" in f for f in files(inst))


def test_dele_then_rset_keeps_everything(mailroom):
    inst = instance(mailroom)
    deliver(inst, 2)
    p = login(inst)
    p.dele(1)
    assert p.stat()[0] == 1
    try:
        p.retr(1)
        raise AssertionError("RETR of a deleted message worked")
    except poplib.error_proto as e:
        assert str(e).startswith("b'-ERR Message 1 is deleted")
    p.rset()
    assert p.stat()[0] == 2
    p.quit()
    assert len(files(inst)) == 2


def test_dele_without_quit_deletes_nothing(mailroom):
    inst = instance(mailroom)
    deliver(inst, 2)
    r = Raw(inst.ports["pop3"])
    r.cmd(f"USER {LOGIN}")
    r.cmd("PASS alice-pw")
    assert r.cmd("DELE 1") == b"+OK Message 1 deleted"
    r.close()                           # no QUIT
    inst.wait_log(r"session end: user=<alice>, .*reason=disconnected")
    assert len(files(inst)) == 2
    p = login(inst)
    uid2 = p.uidl(2).split()[2]
    p.dele(1)
    p.quit()
    inst.wait_log(r"dele=1/\d+, reason=quit")
    assert len(files(inst)) == 1
    p = login(inst)
    assert p.stat()[0] == 1
    assert p.uidl(1).split()[2] == uid2
    p.quit()


def test_second_session_is_in_use(mailroom):
    inst = instance(mailroom)
    deliver(inst, 1)
    p = login(inst)
    q = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    q.user(LOGIN)
    try:
        q.pass_("alice-pw")
        raise AssertionError("second session got the mailbox")
    except poplib.error_proto as e:
        assert str(e).startswith("b'-ERR [IN-USE]")
    q.quit()
    p.quit()
    login(inst).quit()                  # free again


def test_wrong_password_and_capa(mailroom):
    inst = instance(mailroom)
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    caps = p.capa()
    for c in ("TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8"):
        assert c in caps
    assert caps["IMPLEMENTATION"] == ["Mailroom"]
    p.user(LOGIN)
    try:
        p.pass_("wrong")
        raise AssertionError("wrong password accepted")
    except poplib.error_proto as e:
        assert str(e) == "b'-ERR [AUTH] Authentication failed'"
    p.user("nobody")
    try:
        p.pass_("x")
        raise AssertionError("unknown user accepted")
    except poplib.error_proto as e:
        assert str(e) == "b'-ERR [AUTH] Authentication failed'"
    p.quit()
    inst.wait_log(r"warning: authentication failed: user=<alice>, "
                  r"client=127\.0\.0\.1")
    assert "wrong" not in inst.log_text()


def test_hostile_client_is_cut_off(mailroom):
    inst = instance(mailroom)
    r = Raw(inst.ports["pop3"])
    r.s.sendall(b"A" * 100000)
    assert r.line() == b"-ERR Command line too long, closing connection"
    assert r.closed()
    r.close()
    r = Raw(inst.ports["pop3"])
    for i in range(9):
        assert r.cmd("XYZZY") == b"-ERR Unknown command"
    assert r.cmd("STAT") == b"-ERR Command not valid in this state"
    assert r.line() == b"-ERR Too many errors, closing connection"
    assert r.closed()
    r.close()
    inst.wait_log(r"session end: user=<>, client=127\.0\.0\.1, .*reason=too many errors")
    # pipelined commands in one packet are all answered, in order
    deliver(inst, 1)
    r = Raw(inst.ports["pop3"])
    r.s.sendall(f"USER {LOGIN}\r\nPASS alice-pw\r\nSTAT\r\nNOOP\r\nQUIT\r\n".encode())
    replies = [r.line() for _ in range(5)]
    assert replies[0] == b"+OK" and replies[2].startswith(b"+OK 1 ")
    assert replies[3:] == [b"+OK", b"+OK Bye"]
    r.close()


def test_fetchmail_into_an_mda(mailroom, tmp_path):
    """A real POP3 client: fetchmail takes both messages, hands each to a
    command, and deletes them (its default); the mailbox is then empty."""
    inst = instance(mailroom)
    deliver(inst, 2)
    stored = sorted(open(f, "rb").read() for f in files(inst))
    out = tmp_path / "delivered"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f'poll 127.0.0.1 with proto POP3 port {inst.ports["pop3"]}\n'
                  f'  user "{LOGIN}" there with password "alice-pw" is "root" here\n'
                  f'  mda "/bin/sh -c \'cat >> {out}; echo ===== >> {out}\'"\n'
                  # no STLS here yet: without this fetchmail insists on trying it
                  '  sslproto ""\n')
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    r = subprocess.run(["fetchmail", "-f", str(rc), "--pidfile", str(tmp_path / "fetchmail.pid"),
                        "--nosyslog", "--invisible", "-v"],
                       env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()
    got = out.read_bytes().split(b"=====\n")
    assert len(got) == 3 and got[2] == b""
    # fetchmail writes LF line ends to the MDA: the stored bytes come back
    assert sorted(got[:2]) == stored
    assert files(inst) == []
    # fetchmail reads with TOP and a huge line count, so that servers do not mark them seen
    inst.wait_log(r"session end: user=<alice>, client=127\.0\.0\.1, retr=0/0, top=2/\d+, "
                  r"dele=2/\d+, reason=quit")


def tls_instance(mailroom, extra=None):
    """An instance with POP3 on a plain port (STLS) and on an implicit-TLS
    port, both pop3d with the instance's self-signed certificate."""
    conf = dict(FAST_RETRY, **(extra or {}))
    inst = mailroom(extra=conf, qmgr=True, ports={"pop3": free_port(), "pop3s": free_port()})
    assert wait_port(inst.ports["pop3"]) and wait_port(inst.ports["pop3s"])
    return inst


def tls_context(inst):
    """Trust the instance's certificate; it names mx.mailroom.test, not 127.0.0.1."""
    ctx = ssl.create_default_context(cafile=os.path.join(inst.conf_dir, "cert.pem"))
    ctx.check_hostname = False
    return ctx


def test_stls_then_login(mailroom):
    inst = tls_instance(mailroom)
    deliver(inst, 1)
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    caps = p.capa()
    assert "STLS" in caps and "USER" in caps     # loopback: cleartext allowed
    assert p.stls(tls_context(inst)).startswith(b"+OK")
    caps = p.capa()
    assert "STLS" not in caps                    # only while TLS is not active
    assert {"PLAIN", "LOGIN"} <= set(caps["SASL"])
    try:
        p._shortcmd("STLS")
        raise AssertionError("second STLS accepted")
    except poplib.error_proto as e:
        assert str(e) == "b'-ERR TLS is already active'"
    p.user(LOGIN)
    assert p.pass_("alice-pw").startswith(b"+OK Logged in, 1 messages")
    assert b"Subject: pop 0" in b"\n".join(p.retr(1)[1])
    p.quit()
    inst.wait_log(r"TLS connection established from 127\.0\.0\.1: TLSv1\.3")
    inst.wait_log(r"login: user=<alice>, client=127\.0\.0\.1, messages=1, tls")


def test_pop3s_implicit_tls(mailroom):
    inst = tls_instance(mailroom)
    deliver(inst, 2)
    p = poplib.POP3_SSL("127.0.0.1", inst.ports["pop3s"], timeout=30, context=tls_context(inst))
    assert p.getwelcome() == b"+OK Mailroom POP3 server ready"
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps
    p.user(LOGIN)
    p.pass_("alice-pw")
    assert p.stat()[0] == 2
    assert len(p.uidl()[1]) == 2
    p.quit()
    # plain text on the TLS port gets no greeting and a hang-up
    with socket.create_connection(("127.0.0.1", inst.ports["pop3s"]), timeout=30) as s:
        s.sendall(b"CAPA\r\n")
        try:
            got = s.recv(4096)
        except ConnectionResetError:
            got = b""
        assert not got.startswith(b"+OK")
    inst.wait_log(r"TLS handshake with 127\.0\.0\.1 failed")


def s_client(args, text):
    r = subprocess.run(["openssl", "s_client", "-quiet", "-ign_eof"] + args,
                       input=text.encode(), capture_output=True, timeout=60)
    return r.stdout.decode(errors="replace")


def test_openssl_s_client_stls_and_995(mailroom):
    inst = tls_instance(mailroom)
    deliver(inst, 1)
    out = s_client(["-connect", f"127.0.0.1:{inst.ports['pop3']}", "-starttls", "pop3"],
                   "CAPA\r\nUSER alice\r\nPASS alice-pw\r\nSTAT\r\nQUIT\r\n")
    lines = out.split("\r\n")
    assert "STLS" not in lines and "IMPLEMENTATION Mailroom" in lines
    assert "+OK Logged in, 1 messages" in lines and "+OK Bye" in lines
    out = s_client(["-connect", f"127.0.0.1:{inst.ports['pop3s']}"],
                   "AUTH PLAIN " + base64.b64encode(b"\0alice\0alice-pw").decode()
                   + "\r\nLIST\r\nQUIT\r\n")
    lines = out.split("\r\n")
    assert lines[0] == "+OK Mailroom POP3 server ready"
    assert "+OK Logged in, 1 messages" in lines and "+OK Bye" in lines


def test_auth_plain_login_and_cancel(mailroom):
    inst = tls_instance(mailroom)
    deliver(inst, 1)
    plain = base64.b64encode(b"\0alice\0alice-pw").decode()
    # initial response
    r = Raw(inst.ports["pop3"])
    assert r.cmd("AUTH PLAIN " + plain) == b"+OK Logged in, 1 messages"
    assert r.cmd("QUIT") == b"+OK Bye"
    r.close()
    # without: an empty challenge first
    r = Raw(inst.ports["pop3"])
    assert r.cmd("AUTH PLAIN") == b"+ "
    assert r.cmd(plain) == b"+OK Logged in, 1 messages"
    r.cmd("QUIT")
    r.close()
    # LOGIN: two challenges
    r = Raw(inst.ports["pop3"])
    assert r.cmd("AUTH LOGIN") == b"+ " + base64.b64encode(b"Username:")
    assert r.cmd(base64.b64encode(b"alice").decode()) == b"+ " + base64.b64encode(b"Password:")
    assert r.cmd(base64.b64encode(b"alice-pw").decode()) == b"+OK Logged in, 1 messages"
    r.cmd("QUIT")
    r.close()
    # the list, a cancel, a wrong password, an unknown mechanism, bad base64
    r = Raw(inst.ports["pop3"])
    r.s.sendall(b"AUTH\r\n")
    mechs = r.multi().split(b"\r\n")
    assert mechs[0] == b"+OK Mechanisms follow" and b"PLAIN" in mechs and b"LOGIN" in mechs
    assert r.cmd("AUTH PLAIN") == b"+ "
    assert r.cmd("*") == b"-ERR Authentication cancelled"
    bad = base64.b64encode(b"\0alice\0wrong").decode()
    assert r.cmd("AUTH PLAIN " + bad) == b"-ERR [AUTH] Authentication failed"
    assert r.cmd("AUTH X-NOSUCH") == b"-ERR Unsupported authentication mechanism"
    assert r.cmd("AUTH PLAIN") == b"+ "
    assert r.cmd("!!!not base64") == b"-ERR [AUTH] Authentication failed"
    assert r.cmd("AUTH PLAIN " + plain) == b"+OK Logged in, 1 messages"
    r.cmd("QUIT")
    r.close()
    inst.wait_log(r"warning: authentication failed: user=<>, client=127\.0\.0\.1, method=PLAIN")
    assert "alice-pw" not in inst.log_text() and "wrong" not in inst.log_text()


def test_cleartext_needs_tls(mailroom):
    """pop3d_cleartext_auth = no: even on the loopback interface a password
    goes only over TLS (the default, loopback, would allow it here)."""
    inst = tls_instance(mailroom, {"pop3d_cleartext_auth": "no"})
    deliver(inst, 1)
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    caps = p.capa()
    assert "USER" not in caps and "PLAIN" not in caps.get("SASL", [])
    for cmd, want in (("USER alice", "-ERR [AUTH] Cleartext authentication needs TLS first (STLS)"),
                      ("AUTH PLAIN " + base64.b64encode(b"\0alice\0alice-pw").decode(),
                       "-ERR Unsupported authentication mechanism")):
        try:
            p._shortcmd(cmd)
            raise AssertionError(cmd + " accepted in clear")
        except poplib.error_proto as e:
            assert str(e) == repr(want.encode())
    p.stls(tls_context(inst))
    assert "USER" in p.capa()
    p.user(LOGIN)
    p.pass_("alice-pw")
    assert p.stat()[0] == 1
    p.quit()


def test_encrypt_level_and_stls_injection(mailroom):
    """pop3d_tls_security_level = encrypt: no login before STLS, whatever the
    address; commands sent in clear together with STLS are dropped unread."""
    inst = tls_instance(mailroom, {"pop3d_tls_security_level": "encrypt"})
    r = Raw(inst.ports["pop3"])
    assert r.cmd("USER alice") == b"-ERR [AUTH] TLS is required first (STLS)"
    r.s.sendall(b"STLS\r\nUSER alice\r\n")
    assert r.line() == b"+OK Begin TLS negotiation"
    t = tls_context(inst).wrap_socket(r.s)
    t.sendall(b"PASS alice-pw\r\n")
    assert t.recv(4096) == b"-ERR USER first\r\n"
    t.close()
    inst.wait_log(r"discarding 12 bytes of input sent with STLS")


def test_fetchmail_over_tls(mailroom, tmp_path):
    """fetchmail over implicit TLS (ssl) and with STLS, as users set it up."""
    inst = tls_instance(mailroom)
    deliver(inst, 2)
    out = tmp_path / "delivered"
    for how in (f'port {inst.ports["pop3s"]}\n  user "{LOGIN}" there with password '
                f'"alice-pw" is "root" here ssl sslcertck sslcertfile '
                f'"{inst.conf_dir}/cert.pem" sslcommonname "mx.mailroom.test" keep fetchall',
                f'port {inst.ports["pop3"]}\n  user "{LOGIN}" there with password '
                f'"alice-pw" is "root" here sslproto tls1.2+ sslcertck sslcertfile '
                f'"{inst.conf_dir}/cert.pem" sslcommonname "mx.mailroom.test"'):
        rc = tmp_path / "fetchmailrc"
        rc.write_text(f'poll 127.0.0.1 with proto POP3 {how}\n'
                      f'  mda "/bin/sh -c \'cat >> {out}\'"\n')
        rc.chmod(0o600)
        env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
        r = subprocess.run(["fetchmail", "-f", str(rc), "--pidfile", str(tmp_path / "fetchmail.pid"),
                           "--nosyslog", "--invisible", "-v"],
                           env=env, capture_output=True, timeout=60)
        assert r.returncode == 0, (r.stdout + r.stderr).decode()
    # twice the two messages: kept by the first run, deleted by the second
    assert out.read_bytes().count(b"Subject: pop ") == 4
    assert files(inst) == []
    assert len(re.findall(r"login: user=<alice>, client=127\.0\.0\.1, messages=2, tls",
                          inst.log_text())) == 2


def test_hostile_garbage_slow_and_idle(mailroom):
    """Binary garbage, an endless AUTH response, a client that sends one
    byte at a time, and one that says nothing."""
    inst = mailroom(extra=dict(FAST_RETRY, pop3d_timeout="2s"), qmgr=True,
                    ports={"pop3": free_port()})
    assert wait_port(inst.ports["pop3"])
    deliver(inst, 1)
    # garbage with NUL bytes and high bytes: errors, then the limit
    r = Raw(inst.ports["pop3"])
    r.s.sendall(bytes(range(11, 100)) + b"\0" + bytes(range(128, 200)) + b"\r\n")
    assert r.line() == b"-ERR NUL byte in command"
    assert r.cmd("\x1b\x80\xff garbage") == b"-ERR Unknown command"
    # an AUTH response may be long, but not endless
    assert r.cmd("AUTH PLAIN") == b"+ "
    r.s.sendall(b"A" * 100000)
    assert r.line() == b"-ERR Command line too long, closing connection"
    assert r.closed()
    r.close()
    # one byte at a time, slower than any packet: still one command each
    r = Raw(inst.ports["pop3"])
    for b in f"USER {LOGIN}\r\nPASS alice-pw\r\nSTAT\r\n".encode():
        r.s.sendall(bytes([b]))
        time.sleep(0.005)
    replies = [r.line() for _ in range(3)]
    assert replies[:2] == [b"+OK", b"+OK Logged in, 1 messages"]
    assert replies[2].startswith(b"+OK 1 ")
    r.close()
    # silence: the idle timeout ends it, with a reply
    r = Raw(inst.ports["pop3"])
    start = time.time()
    assert r.line() == b"-ERR Idle timeout, closing connection"
    assert r.closed() and time.time() - start < 10
    r.close()
    inst.wait_log(r"session end: user=<>, client=127\.0\.0\.1, .*reason=timeout")


def pop3_procs(inst, name):
    """/proc/PID/status of this instance's processes called name (the
    descendants of its master), as {field: value} with "Pid" and "Root"."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status")
                          if ":" in line)
            if status["Name"].strip() != name:
                continue
            ppid = int(status["PPid"])
            while ppid > 1 and ppid != inst.proc.pid:
                ppid = int(dict(line.split(":", 1) for line in open(f"/proc/{ppid}/status")
                                if ":" in line)["PPid"])
            if ppid != inst.proc.pid:
                continue
            status = {k: v.strip() for k, v in status.items()}
            status["Root"] = os.readlink(f"/proc/{pid}/root")
            out.append(status)
        except (OSError, KeyError, ValueError):
            continue
    return out


def wait_procs(inst, name, n=1):
    deadline = time.time() + 10
    while len(procs := pop3_procs(inst, name)) < n and time.time() < deadline:
        time.sleep(0.05)
    assert len(procs) >= n, f"no {name} process"
    return procs


def ids(status, field):
    return {int(x) for x in status[field].split()}


def test_system_user_and_the_privilege_split(mailroom):
    """A system user (useradd, Maildir in its home, as local delivers it)
    reads mail over POP3. Run as root, the tests see the split in /proc: the
    process master started stays root and reads nothing, the login process
    runs as pop3d_login_user in an empty removed directory, the auth process
    as mail_owner, and the mailbox process with the user's uid, gid and
    groups."""
    assert os.geteuid() == 0, "the privilege split is tested as root"
    name = f"popsys{os.getpid() % 100000}"
    subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True)
    subprocess.run(["groupadd", name + "x"], check=True)
    subprocess.run(["usermod", "-a", "-G", name + "x", name], check=True)
    try:
        pw = pwd.getpwnam(name)
        inst = tls_instance(mailroom)
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", os.path.join(inst.conf_dir, "sasldb2"),
                        "-u", mkinstance.SASL_REALM, name], input=b"sys-pw", check=True)
        deliver(inst, 2, to=f"{name}@mx.mailroom.test")
        new = os.path.join(pw.pw_dir, "Maildir", "new")
        assert len(os.listdir(new)) == 2
        assert os.stat(os.path.join(new, os.listdir(new)[0])).st_uid == pw.pw_uid

        p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
        login_pw = pwd.getpwnam("mailroom-login")
        owner = pwd.getpwnam("mailroom")
        (login,) = wait_procs(inst, "pop3d-login")
        assert ids(login, "Uid") == {login_pw.pw_uid} and ids(login, "Gid") == {login_pw.pw_gid}
        assert ids(login, "Groups") <= {login_pw.pw_gid}
        assert login["NoNewPrivs"] == "1"
        assert login["Root"].startswith("/tmp/pop3d-empty.") and login["Root"].endswith("(deleted)")
        (auth,) = wait_procs(inst, "pop3d-auth")
        assert ids(auth, "Uid") == {owner.pw_uid} and auth["Root"] == "/"
        parent = [s for s in pop3_procs(inst, "pop3d") if s["Pid"] == login["PPid"]][0]
        assert ids(parent, "Uid") == {0}

        p.user(name)
        assert p.pass_("sys-pw") == b"+OK Logged in, 2 messages"
        (box,) = wait_procs(inst, "pop3d-mailbox")
        assert ids(box, "Uid") == {pw.pw_uid} and ids(box, "Gid") == {pw.pw_gid}
        assert ids(box, "Groups") == {pw.pw_gid, grp.getgrnam(name + "x").gr_gid}
        assert box["NoNewPrivs"] == "1" and box["PPid"] == parent["Pid"]
        deadline = time.time() + 10                     # no TLS: nothing to proxy,
        while pop3_procs(inst, "pop3d-login") and time.time() < deadline:
            time.sleep(0.05)                            # the login process is gone
        assert not pop3_procs(inst, "pop3d-login")
        got = [b"\n".join(p.retr(i)[1]) for i in (1, 2)]
        assert sorted(re.search(rb"Subject: pop \d", m).group() for m in got) == \
            [b"Subject: pop 0", b"Subject: pop 1"]
        p.dele(1)
        p.dele(2)
        p.quit()
        inst.wait_log(rf"session end: user=<{name}>, client=127\.0\.0\.1, retr=2/\d+, top=0/0, "
                      r"dele=2/\d+, reason=quit")
        cur = os.path.join(pw.pw_dir, "Maildir", "cur")
        assert os.listdir(new) == [] and os.listdir(cur) == []
        # the store's files in the home belong to the user, not to root
        for f in os.listdir(os.path.join(pw.pw_dir, "Maildir")):
            assert os.stat(os.path.join(pw.pw_dir, "Maildir", f)).st_uid == pw.pw_uid, f

        # a virtual user over TLS: the mailbox process runs as virtual_uid,
        # and the login process stays, as the TLS proxy
        deliver(inst, 1)
        p = poplib.POP3_SSL("127.0.0.1", inst.ports["pop3s"], timeout=30,
                            context=tls_context(inst))
        p.user(LOGIN)
        p.pass_("alice-pw")
        (box,) = wait_procs(inst, "pop3d-mailbox")
        assert ids(box, "Uid") == {owner.pw_uid} and ids(box, "Groups") == {owner.pw_gid}
        (login,) = wait_procs(inst, "pop3d-login")
        assert ids(login, "Uid") == {login_pw.pw_uid}
        assert p.stat()[0] == 1
        p.quit()
        # root is never served, whatever the password database says
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", os.path.join(inst.conf_dir, "sasldb2"),
                        "-u", mkinstance.SASL_REALM, "root"], input=b"root-pw", check=True)
        r = Raw(inst.ports["pop3"])
        assert r.cmd("USER root") == b"+OK"
        assert r.cmd("PASS root-pw") == \
            b"-ERR [SYS/PERM] This mailbox cannot be served over POP3 here"
        assert r.cmd("STAT") == b"-ERR Command not valid in this state"
        assert r.cmd("QUIT") == b"+OK Bye"
        r.close()
        inst.wait_log(r"login of <root> from 127\.0\.0\.1: the superuser's mail is not served")
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True)
        subprocess.run(["groupdel", name + "x"], capture_output=True)


def test_ten_thousand_messages(mailroom):
    """A mailbox of 10,000 messages: 9,997 written straight into the Maildir
    (as local names them), then 3 real deliveries through smtpd; STAT, LIST,
    UIDL and RETR of the last one, a second session that sees the same."""
    inst = instance(mailroom)
    deliver(inst, 1)                    # makes the Maildir, as local does
    new = os.path.join(maildir(inst), "new")
    owner = os.stat(new)
    body = b"From: bulk@example.org\nTo: alice@mailroom.test\nSubject: bulk %d\n\nline\n"
    total = 0
    for i in range(9997):
        text = body % i
        total += len(text) + text.count(b"\n")
        path = os.path.join(new, f"1600000000.M{i}P1.bulk,S={len(text)}")
        with open(path, "wb") as f:
            f.write(text)
        os.chown(path, owner.st_uid, owner.st_gid)
    deliver(inst, 2)
    stored = sorted(files(inst))
    assert len(stored) == 10000
    total += sum(len(open(f, "rb").read().replace(b"\n", b"\r\n")) for f in stored
                 if ".bulk," not in f)
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=120)
    p.user(LOGIN)
    assert p.pass_("alice-pw") == b"+OK Logged in, 10000 messages"
    assert p.stat() == (10000, total)
    listing = p.list()[1]
    assert len(listing) == 10000 and listing[-1].startswith(b"10000 ")
    uidl = p.uidl()[1]
    assert len(uidl) == 10000 and len({u.split()[1] for u in uidl}) == 10000
    assert p.uidl(10000).split()[1:] == uidl[-1].split()
    last = b"\n".join(p.retr(10000)[1])
    assert b"Subject: pop " in last       # a real delivery after the bulk: the highest UID
    p.quit()
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=120)
    p.user(LOGIN)
    p.pass_("alice-pw")
    assert p.uidl()[1] == uidl
    p.quit()
