"""test_pop3d.py - POP3 against mailboxes filled by real deliveries:
smtpd -> cleanup -> qmgr -> local -> Maildir, then pop3d, driven with
Python's poplib and with a raw socket where the exact bytes matter.

What a user sees: the replies (+OK/-ERR with RFC 2449 codes), the bytes of
RETR, UIDL values that do not change between sessions, messages that are
deleted only by a QUIT, the [IN-USE] refusal of a second session, and the
log line of each session.
"""
import os
import poplib
import re
import smtplib
import socket
import subprocess
import time

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
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog", "--invisible", "-v"],
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
