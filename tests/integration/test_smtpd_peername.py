"""test_smtpd_peername.py - smtpd names its client by the PTR record of
the client's address, confirmed by a forward lookup of that name; the name
shows in Received: and in the log as name[addr], and is "unknown" when
there is no PTR, the PTR is not a host name, the name does not resolve
back to the address, or the name server does not answer in time
(smtpd_peername_timeout). The name server is the python3-dnslib stub of
test_smtp_dns.py (dns_servers); the clients connect from 127.0.0.x
addresses of their own."""
import re
import smtplib
import threading
import time

from dnslib import RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from test_delivery_e2e import maildir_files, wait_for
from test_smtp_dns import free_udp_port

ZONE = """
21.0.0.127.in-addr.arpa. 60 IN PTR good.client.test.
good.client.test.        60 IN A   127.0.0.21
22.0.0.127.in-addr.arpa. 60 IN PTR liar.client.test.
liar.client.test.        60 IN A   127.0.0.99
24.0.0.127.in-addr.arpa. 60 IN PTR slow.client.test.
25.0.0.127.in-addr.arpa. 60 IN PTR bad_name!.client.test.
bad_name!.client.test.   60 IN A   127.0.0.25
"""
SILENT = "24.0.0.127.in-addr.arpa."  # the stub never answers this one


class Stub(BaseResolver):
    """The zone, NXDOMAIN for names it does not know, no answer at all
    for SILENT; remembers every question."""

    def __init__(self):
        self.rrs = RR.fromZone(ZONE)
        self.asked = []
        self.release = threading.Event()

    def resolve(self, request, handler):
        q = request.q
        self.asked.append(str(q.qname))
        if str(q.qname) == SILENT:
            self.release.wait(30)
        reply = request.reply()
        known = [rr for rr in self.rrs if rr.rname == q.qname]
        reply.header.rcode = RCODE.NXDOMAIN if not known else RCODE.NOERROR
        for rr in known:
            if rr.rtype == q.qtype:
                reply.add_answer(rr)
        return reply


def start_stub():
    stub = Stub()
    port = free_udp_port()
    server = DNSServer(stub, address="127.0.0.1", port=port,
                       logger=DNSLogger(logf=lambda s: None))
    server.start_thread()
    return stub, server, port


def send_from(inst, source, rcpt, subject):
    body = (f"Message-ID: <{subject}@client.test>\r\nDate: Fri, 27 Nov 2026 15:00:00 +0000\r\n"
            f"From: x@client.test\r\nSubject: {subject}\r\n\r\nhello\r\n").encode()
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30,
                      source_address=(source, 0)) as s:
        s.ehlo("helo.client.test")
        s.sendmail("x@client.test", [rcpt], body)


def received_of(inst, user, count):
    assert wait_for(lambda: len(maildir_files(inst, user)) >= count, timeout=30), \
        inst.log_text()[-2000:]
    out = []
    for path in maildir_files(inst, user):
        m = re.search(rb"\nReceived: from ([^\n]*)\n", open(path, "rb").read())
        out.append(m.group(1).decode())
    return sorted(out)


def test_client_name_confirmed_or_unknown(mailroom):
    stub, server, port = start_stub()
    try:
        inst = mailroom(qmgr=True, extra={"smtpd_peername_lookup": "yes",
                                          "smtpd_peername_timeout": "2s",
                                          "dns_servers": f"127.0.0.1:{port}"})
        send_from(inst, "127.0.0.21", "alice@mailroom.test", "good")
        inst.wait_log(r"connect from good\.client\.test\[127\.0\.0\.21\]")
        inst.wait_log(r"[0-9A-Z]{16}: client=good\.client\.test\[127\.0\.0\.21\]")
        # the name does not resolve back to the address
        send_from(inst, "127.0.0.22", "bob@mailroom.test", "liar")
        inst.wait_log(r"warning: hostname liar\.client\.test does not resolve to address "
                      r"127\.0\.0\.22")
        inst.wait_log(r"connect from unknown\[127\.0\.0\.22\]")
        # no PTR at all: unknown, and nothing to warn about
        send_from(inst, "127.0.0.23", "bob@mailroom.test", "nxdomain")
        inst.wait_log(r"connect from unknown\[127\.0\.0\.23\]")
        # a PTR that is no host name is never shown
        send_from(inst, "127.0.0.25", "bob@mailroom.test", "badname")
        inst.wait_log(r"connect from unknown\[127\.0\.0\.25\]")
        assert "bad_name" not in inst.log_text()
        assert received_of(inst, "alice", 1) == [
            "helo.client.test (good.client.test [127.0.0.21])"]
        assert received_of(inst, "bob", 3) == [
            "helo.client.test (unknown [127.0.0.22])",
            "helo.client.test (unknown [127.0.0.23])",
            "helo.client.test (unknown [127.0.0.25])"]
        assert "23.0.0.127.in-addr.arpa." in stub.asked
        # a name server that does not answer holds the greeting no longer
        # than smtpd_peername_timeout (2s) and a little
        start = time.time()
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30,
                          source_address=("127.0.0.24", 0)) as s:
            waited = time.time() - start
            assert s.noop()[0] == 250
        assert waited < 4.5, waited
        inst.wait_log(r"warning: hostname lookup for 127\.0\.0\.24 failed: .*type=PTR")
        inst.wait_log(r"connect from unknown\[127\.0\.0\.24\]")
    finally:
        stub.release.set()
        server.stop()


def test_peername_lookup_off(mailroom):
    """smtpd_peername_lookup = no: no query at all, the name is unknown."""
    stub, server, port = start_stub()
    try:
        inst = mailroom(qmgr=True, extra={"smtpd_peername_lookup": "no",
                                          "dns_servers": f"127.0.0.1:{port}"})
        send_from(inst, "127.0.0.21", "alice@mailroom.test", "off")
        inst.wait_log(r"connect from unknown\[127\.0\.0\.21\]")
        assert received_of(inst, "alice", 1) == ["helo.client.test (unknown [127.0.0.21])"]
        assert stub.asked == []
    finally:
        stub.release.set()
        server.stop()
