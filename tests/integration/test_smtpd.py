"""test_smtpd.py - the SMTP server as a client on the network sees it.

Outside clients play from 127.0.0.2 (not in the test instance's
mynetworks = 127.0.0.1/32); 127.0.0.1 is the trusted network. Each test
asserts exact reply codes, what is in the queue, and the log lines.
"""
import os
import re
import signal
import smtplib
import socket
import subprocess
import time

import pytest

import qrecords
from killing import children

OUTSIDE = "127.0.0.2"
INSIDE = "127.0.0.1"


# --- helpers ---------------------------------------------------------------

class Client:
    """A raw SMTP client: send bytes, read whole (multi-line) replies."""

    def __init__(self, inst, src=OUTSIDE, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", inst.ports["smtp"]),
                                             timeout=timeout, source_address=(src, 0))
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, [lines without the code]) of one complete reply."""
        lines = []
        while True:
            line = self._line()
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self):
        """True if the server has closed the connection (EOF, nothing left)."""
        try:
            return self.buf == b"" and self.sock.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.sock.close()


def session(inst, src=OUTSIDE, helo="client.example"):
    c = Client(inst, src)
    assert c.reply()[0] == 220
    code, _ = c.cmd("EHLO " + helo)
    assert code == 250
    return c


def read_records(path):
    """Parse a queue file (docs/queue.md): list of (type letter, bytes)."""
    with open(path, "rb") as f:
        return [(t.decode(), v) for t, v in qrecords.parse(f.read())]


class QueueFile:
    def __init__(self, path):
        recs = read_records(path)
        self.sender = next(v.decode() for t, v in recs if t == "F")
        self.rcpts = [v.decode() for t, v in recs if t in "RD"]
        self.orcpts = [v.decode() for t, v in recs if t == "O"]
        self.notifies = [v.decode() for t, v in recs if t == "N"]
        self.attrs = dict(v.decode().split("=", 1) for t, v in recs if t == "A")
        lines, cur = [], b""
        seen_mesg = False
        for t, v in recs:
            if t == "M":
                seen_mesg = True
            elif seen_mesg and t == "C":
                cur += v
            elif seen_mesg and t == "L":
                lines.append(cur + v)
                cur = b""
        self.lines = lines
        self.text = b"\n".join(lines)


def all_queued(inst, temp=False):
    """Queue IDs of committed files in incoming/ and active/ (qmgr may have
    moved them); with temp, also files still being written (not ready)."""
    out = {}
    for q in ("incoming", "active"):
        for rel in inst.queue_files(q):
            path = os.path.join(inst.spool, q, rel)
            if temp or qrecords.ready(path):
                out[os.path.basename(rel)] = path
    return out


def wait_no_files(inst, timeout=10.0):
    """An aborted message: cleanup removes its temp file when it sees the
    connection close; wait for that, then nothing may be left."""
    deadline = time.time() + timeout
    while all_queued(inst, temp=True) and time.time() < deadline:
        time.sleep(0.05)
    assert all_queued(inst, temp=True) == {}


def content(q):
    """Content lines without the headers cleanup adds (Date:, Message-ID:)."""
    return [l for l in q.lines if not re.match(rb"(Date|Message-ID): ", l)]


def queued(inst, qid):
    path = all_queued(inst).get(qid)
    assert path, f"{qid} not in incoming/ or active/"
    return QueueFile(path)


def send_message(c, rcpts, content, sender="sender@example.org"):
    """MAIL/RCPT/DATA one at a time; returns the final (code, lines)."""
    assert c.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    for r in rcpts:
        assert c.cmd(f"RCPT TO:<{r}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(content)
    return c.reply()


def queued_id(reply):
    m = re.match(r"2\.0\.0 Ok: queued as (\S+)$", reply[1][0])
    assert m, reply
    return m.group(1)


@pytest.fixture
def inst(mailroom):
    return mailroom(extra={"smtpd_error_sleep_time": "0"})


# --- the protocol ----------------------------------------------------------

def test_ehlo_lists_extensions(inst):
    c = Client(inst)
    code, lines = c.reply()
    assert code == 220 and lines == ["mx.mailroom.test ESMTP Mailroom"]
    code, lines = c.cmd("EHLO client.example")
    assert code == 250
    assert lines == ["mx.mailroom.test", "PIPELINING", "SIZE 10240000", "VRFY",
                     "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"]
    assert c.cmd("HELO client.example") == (250, ["mx.mailroom.test"])
    assert c.cmd("QUIT") == (221, ["2.0.0 Bye"])


def test_command_replies(inst):
    c = Client(inst)
    c.reply()
    assert c.cmd("MAIL FROM:<a@example.org>") == (503, ["5.5.1 Error: send HELO/EHLO first"])
    assert c.cmd("EHLO") == (501, ["5.5.4 Syntax: EHLO hostname"])
    assert c.cmd("EHLO client.example")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>") == (503, ["5.5.1 Error: need MAIL command"])
    assert c.cmd("DATA") == (503, ["5.5.1 Error: need MAIL command"])
    assert c.cmd("MAIL FROM:a@example.org>") == (501, ["5.5.4 Syntax: MAIL FROM:<address>"])
    assert c.cmd("MAIL TO:<a@example.org>") == (501, ["5.5.4 Syntax: MAIL FROM:<address>"])
    assert c.cmd("MAIL FROM:<a..b@example.org>") == (501, ["5.1.7 Bad sender address syntax"])
    assert c.cmd("MAIL FROM:<a@example.org> FOO=BAR") == (555, ["5.5.4 Unsupported option: FOO"])
    assert c.cmd("MAIL FROM:<a@example.org>") == (250, ["2.1.0 Ok"])
    assert c.cmd("MAIL FROM:<a@example.org>") == (503, ["5.5.1 Error: nested MAIL command"])
    assert c.cmd("DATA") == (503, ["5.5.1 Error: need RCPT command"])
    assert c.cmd("RCPT TO:<>") == (501, ["5.1.3 Bad recipient address syntax"])
    assert c.cmd("RCPT TO:<x@example.net>") == (554, ["5.7.1 <x@example.net>: Relay access denied"])
    assert c.cmd("DATA") == (554, ["5.5.1 Error: no valid recipients"])
    assert c.cmd("RSET") == (250, ["2.0.0 Ok"])
    assert c.cmd("NOOP") == (250, ["2.0.0 Ok"])
    assert c.cmd("VRFY alice") == (252, ["2.5.2 Send some mail, I'll try my best"])
    code, lines = c.cmd("HELP")
    assert code == 214 and all(l.startswith("2.0.0 ") for l in lines)
    assert c.cmd("FROB") == (500, ["5.5.2 Error: command not recognized"])
    assert c.cmd("QUIT") == (221, ["2.0.0 Bye"])
    assert c.closed()
    inst.wait_log(r"disconnect from unknown\[127\.0\.0\.2\] ehlo=1/2 mail=1/7 rcpt=0/3 "
                  r"data=0/3 rset=1 noop=1 vrfy=1 help=1 quit=1 unknown=0/1 commands=7/21$")


def test_message_is_queued_with_received_header(inst):
    s = smtplib.SMTP("127.0.0.1", inst.ports["smtp"], source_address=(OUTSIDE, 0), timeout=10)
    s.ehlo("client.example")
    msg = (b"From: sender@example.org\r\nTo: alice@mailroom.test\r\n"
           b"Message-ID: <m1@example.org>\r\nSubject: hello\r\n\r\n"
           b"line one\r\n.leading dot\r\n")
    code, text = s.docmd("MAIL", "FROM:<sender@example.org>")
    assert (code, text) == (250, b"2.1.0 Ok")
    assert s.rcpt("alice@mailroom.test") == (250, b"2.1.5 Ok")
    code, text = s.data(msg)
    assert code == 250
    qid = re.match(rb"2\.0\.0 Ok: queued as (\S+)$", text).group(1).decode()
    s.quit()
    q = queued(inst, qid)
    assert q.sender == "sender@example.org"
    assert q.rcpts == ["alice@mailroom.test"]
    assert q.attrs["client_addr"] == OUTSIDE
    assert q.attrs["helo"] == "client.example"
    assert q.attrs["protocol"] == "ESMTP"
    received = [l for l in q.lines if l.startswith(b"Received:") or l.startswith(b"\t")][:3]
    assert received[0] == b"Received: from client.example (unknown [127.0.0.2])"
    assert received[1] == f"\tby mx.mailroom.test (Mailroom) with ESMTP id {qid}".encode()
    assert re.match(rb"\tfor <alice@mailroom\.test>; \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}",
                    received[2])
    assert q.lines[0].startswith(b"Received: ")
    assert b"Message-ID: <m1@example.org>" in q.lines
    assert q.lines[-2:] == [b"line one", b".leading dot"]
    inst.wait_log(r"connect from unknown\[127\.0\.0\.2\]")
    inst.wait_log(rf"{qid}: client=unknown\[127\.0\.0\.2\]")
    inst.wait_log(r"disconnect from unknown\[127\.0\.0\.2\] ehlo=1 mail=1 rcpt=1 data=1 "
                  r"quit=1 commands=5$")


def test_two_recipients_no_for_clause(inst):
    c = session(inst)
    r = send_message(c, ["alice@mailroom.test", "bob@mailroom.test"], "Subject: x\r\n\r\nx\r\n.\r\n")
    qid = queued_id(r)
    q = queued(inst, qid)
    assert q.lines[1] == f"\tby mx.mailroom.test (Mailroom) with ESMTP id {qid};".encode()
    assert not q.lines[2].startswith(b"\tfor")


# --- relay and recipient policy ------------------------------------------

def test_relay_denied_from_outside(inst):
    c = session(inst, helo="outside.example")
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<x@example.net>") == (554, ["5.7.1 <x@example.net>: Relay access denied"])
    inst.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 "
                  r"<x@example\.net>: Relay access denied; from=<a@example\.org> "
                  r"to=<x@example\.net> proto=ESMTP helo=<outside\.example>$")


def test_relay_allowed_from_mynetworks(inst):
    c = session(inst, src=INSIDE)
    r = send_message(c, ["x@example.net"], "Subject: relay\r\n\r\nx\r\n.\r\n")
    assert queued(inst, queued_id(r)).rcpts == ["x@example.net"]


def test_unknown_users(inst):
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<nobody@mailroom.test>") == (
        550, ["5.1.1 <nobody@mailroom.test>: Recipient address rejected: "
              "User unknown in virtual mailbox table"])
    assert c.cmd("RCPT TO:<alice+tag@mailroom.test>") == (250, ["2.1.5 Ok"])
    assert c.cmd("RCPT TO:<BOB@MAILROOM.TEST>") == (250, ["2.1.5 Ok"])
    # mydestination: system users (getpwnam), aliases, postmaster
    assert c.cmd("RCPT TO:<root@mx.mailroom.test>") == (250, ["2.1.5 Ok"])
    assert c.cmd("RCPT TO:<abuse@localhost>") == (250, ["2.1.5 Ok"])
    assert c.cmd("RCPT TO:<Postmaster>") == (250, ["2.1.5 Ok"])
    assert c.cmd("RCPT TO:<no-such-user@mx.mailroom.test>") == (
        550, ["5.1.1 <no-such-user@mx.mailroom.test>: Recipient address rejected: "
              "User unknown in local recipient table"])


def test_table_failure_is_temporary(mailroom):
    inst = mailroom(extra={"virtual_mailbox_maps": "cdb:/nonexistent/vmailbox"})
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>") == (
        451, ["4.3.0 <alice@mailroom.test>: Temporary lookup failure"])


# --- extensions ------------------------------------------------------------

def test_swaks_pipelining(inst):
    out = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(inst.ports["smtp"]),
         "--local-interface", OUTSIDE, "--pipeline", "--ehlo", "swaks.example",
         "--from", "s@example.org", "--to", "alice@mailroom.test,bob@mailroom.test",
         "--timeout", "10"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"<\*\* +250 2\.0\.0 Ok: queued as \S+", out.stdout) or \
        re.search(r"<- +250 2\.0\.0 Ok: queued as \S+", out.stdout), out.stdout


def test_pipelined_group(inst):
    c = session(inst)
    c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@mailroom.test>\r\n"
           "RCPT TO:<x@example.net>\r\nDATA\r\n")
    assert c.reply()[0] == 250
    assert c.reply()[0] == 250
    assert c.reply()[0] == 554
    assert c.reply()[0] == 354
    c.send("Subject: p\r\n\r\np\r\n.\r\nQUIT\r\n")
    assert c.reply()[0] == 250
    assert c.reply()[0] == 221


def test_pipelined_transactions_get_every_reply(inst):
    """Whole batches in one write each: MAIL/RCPT/DATA, then the content,
    the end-of-data dot and the next transaction's MAIL/RCPT/DATA, then a
    BDAT LAST transaction with QUIT. Every reply arrives, in order."""
    c = session(inst)
    c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@mailroom.test>\r\n"
           "RCPT TO:<bob@mailroom.test>\r\nDATA\r\n")
    assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    c.send("Subject: one\r\n\r\none\r\n.\r\n"
           "MAIL FROM:<b@example.org>\r\nRCPT TO:<bob@mailroom.test>\r\nDATA\r\n")
    first = c.reply()
    assert first[0] == 250
    assert [c.reply()[0] for _ in range(3)] == [250, 250, 354]
    c.send("Subject: two\r\n\r\ntwo\r\n.\r\n")
    second = c.reply()
    assert second[0] == 250
    body = b"Subject: three\r\n\r\nthree\r\n"
    c.send(b"MAIL FROM:<c@example.org>\r\nRCPT TO:<alice@mailroom.test>\r\n"
           b"BDAT %d LAST\r\n%sQUIT\r\n" % (len(body), body))
    assert [c.reply()[0] for _ in range(2)] == [250, 250]
    third = c.reply()
    assert third[0] == 250
    assert c.reply()[0] == 221
    assert c.closed()
    ids = [queued_id(r) for r in (first, second, third)]
    assert len(set(ids)) == 3
    for qid, subject in zip(ids, (b"one", b"two", b"three")):
        assert b"Subject: " + subject in queued(inst, qid).text


def test_improper_pipelining_after_ehlo(inst):
    c = Client(inst)
    c.reply()
    c.send("EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n")
    assert c.reply() == (554, ["5.5.0 mx.mailroom.test Error: improper use of SMTP command pipelining"])
    assert c.closed()
    inst.wait_log(r"improper command pipelining after EHLO from unknown\[127\.0\.0\.2\]: MAIL FROM")


def test_improper_pipelining_after_data(inst):
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    c.send("DATA\r\nSubject: early\r\n\r\n.\r\n")
    assert c.reply()[0] == 554
    assert c.closed()
    assert all_queued(inst) == {}


def test_pregreet_traffic(mailroom):
    inst = mailroom(extra={"smtpd_pregreet_wait": "1s"})
    c = Client(inst)
    c.send("EHLO early.example\r\n")
    assert c.reply() == (554, ["5.5.0 mx.mailroom.test Error: talking before the greeting"])
    assert c.closed()
    inst.wait_log(r"PREGREET 20 after greeting pause from unknown\[127\.0\.0\.2\]: EHLO early")
    # a client that waits is served
    c = Client(inst)
    assert c.reply()[0] == 220


def test_bdat_chunks(inst):
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org> BODY=8BITMIME")[0] == 250
    assert c.cmd("RCPT TO:<bob@mailroom.test>")[0] == 250
    parts = [b"Subject: chunked\r\n\r\nfirst ", b"line\r\n.second\r\n", b"last line no crlf"]
    c.send(b"BDAT %d\r\n" % len(parts[0]) + parts[0])
    assert c.reply() == (250, ["2.0.0 Ok: %d bytes" % len(parts[0])])
    # pipelined chunks
    c.send(b"BDAT %d\r\n" % len(parts[1]) + parts[1] + b"BDAT %d LAST\r\n" % len(parts[2]) + parts[2])
    assert c.reply() == (250, ["2.0.0 Ok: %d bytes" % len(parts[1])])
    r = c.reply()
    q = queued(inst, queued_id(r))
    body = content(q)[3:]
    assert body == [b"Subject: chunked", b"", b"first line", b".second", b"last line no crlf"]
    assert q.attrs.get("body") == "8bitmime"
    # BDAT out of sequence: the chunk is skipped, the session goes on
    c.send(b"BDAT 5\r\nhello")
    assert c.reply() == (503, ["5.5.1 Error: need MAIL command"])
    assert c.cmd("NOOP")[0] == 250
    assert c.cmd("BDAT x") == (501, ["5.5.4 Syntax: BDAT count [LAST]"])


def test_dsn_parameters(inst):
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org> RET=HDRS ENVID=env+2Bid")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;alice+2Bx@mailroom.test")[0] == 250
    assert c.cmd("RCPT TO:<bob@mailroom.test> NOTIFY=BOGUS") == (
        501, ["5.5.4 Bad NOTIFY parameter syntax"])
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: dsn\r\n\r\nx\r\n.\r\n")
    q = queued(inst, queued_id(c.reply()))
    assert q.attrs["ret"] == "hdrs"
    assert q.attrs["envid"] == "env+id"
    assert q.notifies == ["SUCCESS,FAILURE"]
    assert q.orcpts == ["rfc822;alice+x@mailroom.test"]


def test_smtputf8(inst):
    c = session(inst, src=INSIDE)
    assert c.cmd("MAIL FROM:<j\u00f6rg@example.org>") == (
        553, ["5.6.7 <j\u00f6rg@example.org>: Must declare SMTPUTF8 to send unicode address"])
    assert c.cmd("MAIL FROM:<j\u00f6rg@example.org> SMTPUTF8")[0] == 250
    assert c.cmd("RCPT TO:<m\u00fcller@example.net>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: utf8\r\n\r\nx\r\n.\r\n".encode())
    q = queued(inst, queued_id(c.reply()))
    assert q.sender == "j\u00f6rg@example.org"
    assert b"with UTF8ESMTP id" in q.lines[1]


# --- limits ----------------------------------------------------------------

def test_size_limit(mailroom):
    inst = mailroom(extra={"message_size_limit": "1000"})
    c = session(inst)
    assert c.cmd("EHLO x")[1][2] == "SIZE 1000"
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=1001") == (
        552, ["5.3.4 Message size exceeds fixed limit"])
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=900")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 100 + ".\r\n")
    assert c.reply() == (552, ["5.3.4 Error: message file too big"])
    assert c.cmd("NOOP")[0] == 250
    wait_no_files(inst)
    inst.wait_log(r"\S+: reject: DATA from unknown\[127\.0\.0\.2\]: 552 5\.3\.4 Message size "
                  r"exceeds fixed limit; from=<a@example\.org> proto=ESMTP helo=<x>$")
    # BDAT too
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    c.send(b"BDAT 2000 LAST\r\n" + b"y" * 2000)
    assert c.reply() == (552, ["5.3.4 Error: message file too big"])
    wait_no_files(inst)


def test_thousand_recipients(mailroom):
    inst = mailroom(extra={"smtpd_recipient_limit": "1000"})
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    c.send("".join(f"RCPT TO:<alice+{i}@mailroom.test>\r\n" for i in range(1001)))
    for _ in range(1000):
        assert c.reply() == (250, ["2.1.5 Ok"])
    assert c.reply() == (452, ["4.5.3 Error: too many recipients"])
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: many\r\n\r\nx\r\n.\r\n")
    q = queued(inst, queued_id(c.reply()))
    assert len(q.rcpts) == 1000


def test_long_command_line(inst):
    c = session(inst)
    assert c.cmd("NOOP " + "x" * 5000) == (500, ["5.5.2 mx.mailroom.test Error: line too long"])
    assert c.cmd("NOOP") == (250, ["2.0.0 Ok"])
    assert c.cmd("MAIL FROM:<" + "a" * 3000 + "@example.org>")[0] == 500


def test_garbage_and_error_limit(mailroom):
    inst = mailroom(extra={"smtpd_error_sleep_time": "0", "smtpd_hard_error_limit": "5"})
    c = Client(inst)
    c.reply()
    c.send(b"\x00\x01\x02\xff\xfe\r\n")
    assert c.reply()[0] == 500
    c.send(bytes(range(11, 256)) + b"\r\n")
    assert c.reply()[0] == 500
    assert c.cmd("\x1b[2J")[0] == 500
    assert c.cmd("EHLO")[0] == 501
    assert c.cmd("GET / HTTP/1.0") == (500, ["5.5.2 Error: command not recognized"])
    assert c.reply() == (421, ["4.7.0 mx.mailroom.test Error: too many errors"])
    assert c.closed()
    inst.wait_log(r"too many errors after UNKNOWN from unknown\[127\.0\.0\.2\]")


def test_timeout(mailroom):
    inst = mailroom(extra={"smtpd_timeout": "1s"})
    c = Client(inst)
    c.reply()
    assert c.reply() == (421, ["4.4.2 mx.mailroom.test Error: timeout exceeded"])
    assert c.closed()
    inst.wait_log(r"timeout after CONNECT from unknown\[127\.0\.0\.2\]")


def test_connection_count_limit(mailroom):
    inst = mailroom(extra={"smtpd_client_connection_count_limit": "2"})
    a, b = Client(inst), Client(inst)
    assert a.reply()[0] == 220 and b.reply()[0] == 220
    c = Client(inst)
    assert c.reply() == (421, ["4.7.0 mx.mailroom.test Error: too many connections from 127.0.0.2"])
    inst.wait_log(r"Connection concurrency limit exceeded: 3 from unknown\[127\.0\.0\.2\] "
                  r"for service \S+$")
    # mynetworks is exempt
    d = Client(inst, src=INSIDE)
    assert d.reply()[0] == 220
    # a slot comes back when its session ends
    a.cmd("QUIT")
    a.close()
    inst.wait_log(r"disconnect from unknown\[127\.0\.0\.2\] quit=1")
    e = Client(inst)
    assert e.reply()[0] == 220


# --- SMTP smuggling --------------------------------------------------------

SMUGGLE_VARIANTS = [
    b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n", b"\n.\r",
    b"\r.\n", b"\r\n\x00.\r\n", b"\n..\n",
]


@pytest.mark.parametrize("variant", SMUGGLE_VARIANTS, ids=lambda v: v.hex())
def test_smuggling_variants(inst, variant):
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: first\r\n\r\nfirst body" + variant +
           b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@mailroom.test>\r\nDATA\r\n"
           b"Subject: smuggled\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n")
    r = c.reply()
    qid = queued_id(r)
    assert c.reply() == (221, ["2.0.0 Bye"])
    assert list(all_queued(inst)) == [qid]
    q = queued(inst, qid)
    assert q.rcpts == ["alice@mailroom.test"]
    assert b"MAIL FROM:<evil@example.net>" in q.text
    assert b"Subject: smuggled" in q.text


def test_bare_newline_forbidden(mailroom):
    inst = mailroom(extra={"smtpd_forbid_bare_newline": "yes"})
    c = Client(inst)
    c.reply()
    c.send("EHLO client.example\n")
    assert c.reply() == (521, ["5.5.2 mx.mailroom.test Error: bare <LF> received"])
    assert c.closed()
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: x\r\n\r\nbare\n.\r\n")
    assert c.reply() == (521, ["5.5.2 mx.mailroom.test Error: bare <LF> received"])
    assert c.closed()
    assert all_queued(inst) == {}
    inst.wait_log(r"disconnect: bare <LF> received from unknown\[127\.0\.0\.2\] after DATA")


def test_bare_newline_normalized(inst):
    c = session(inst)
    r = send_message(c, ["alice@mailroom.test"], b"Subject: lf\n\nline1\nline2\r\n.\r\n")
    q = queued(inst, queued_id(r))
    assert content(q)[3:] == [b"Subject: lf", b"", b"line1", b"line2"]


# --- failures --------------------------------------------------------------

def test_disconnect_mid_data(inst):
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: cut\r\n\r\npartial line")
    c.close()
    inst.wait_log(r"lost connection after DATA from unknown\[127\.0\.0\.2\]")
    inst.wait_log(r"disconnect from unknown\[127\.0\.0\.2\] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4")
    wait_no_files(inst)


def test_cleanup_killed_mid_data(inst):
    c = session(inst)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: doomed\r\n\r\nfirst part\r\n")
    pids = children(inst, ("cleanup",))
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    c.send("x" * 100000 + "\r\n.\r\n")
    assert c.reply() == (451, ["4.3.0 Error: queue file write error"])
    assert c.cmd("QUIT")[0] == 221
    # nothing queued; the killed cleanup's invisible temp file (".t...")
    # stays behind for the queue's stale-file sweep (docs/queue.md)
    assert all_queued(inst) == {}


def test_smtpd_killed_after_250(inst):
    c = session(inst)
    r = send_message(c, ["alice@mailroom.test"], "Subject: durable\r\n\r\nx\r\n.\r\n")
    qid = queued_id(r)
    for pid in children(inst, ("smtpd",)):
        os.kill(pid, signal.SIGKILL)
    assert queued(inst, qid).rcpts == ["alice@mailroom.test"]


def test_improper_pipelining_after_helo(inst):
    c = Client(inst)
    c.reply()
    assert c.cmd("HELO old.example") == (250, ["mx.mailroom.test"])
    c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@mailroom.test>\r\n")
    assert c.reply() == (554, ["5.5.0 mx.mailroom.test Error: improper use of SMTP command pipelining"])
    assert c.closed()
    inst.wait_log(r"improper command pipelining after MAIL from unknown\[127\.0\.0\.2\]: RCPT TO")


def test_stand_alone_mode(mailroom):
    """smtpd -S serves one client on fd 0 without master."""
    inst = mailroom(start=False)
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([inst.bin("smtpd"), "-S", "-c", inst.conf_dir, "-n", "smtp",
                             "-t", "inet"], stdin=theirs, env=inst.env)
    theirs.close()
    f = ours.makefile("rwb")
    assert f.readline().startswith(b"220 mx.mailroom.test ESMTP")
    f.write(b"EHLO sa.example\r\n")
    f.flush()
    while not f.readline().startswith(b"250 "):
        pass
    f.write(b"QUIT\r\n")
    f.flush()
    assert f.readline() == b"221 2.0.0 Bye\r\n"
    assert proc.wait(timeout=10) == 0
    inst.wait_log(r"disconnect from unknown\[local\] ehlo=1 quit=1 commands=2")
