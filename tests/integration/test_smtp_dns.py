"""test_smtp_dns.py - the smtp agent finds its way through the DNS: MX
hosts in preference order (the next one when the first refuses), the
domain's own address when it has no MX, and a null MX bounced at once.
The name server is a python3-dnslib stub on the loopback (dns_servers);
nothing reaches a real DNS."""
import os
import smtplib
import socket

from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from smtpsink import Sink
from test_delivery_e2e import maildir_files, wait_for

BODY = (b"Message-ID: <mx-1@mailroom.test>\r\nFrom: alice@mailroom.test\r\n"
        b"Subject: via MX\r\n\r\nhello over MX\r\n")


class Zone(BaseResolver):
    """Answers from a zone text: the records of the name and type asked,
    NXDOMAIN for a name it does not know."""

    def __init__(self, text):
        self.rrs = RR.fromZone(text)

    def resolve(self, request, handler):
        reply = request.reply()
        q = request.q
        known = [rr for rr in self.rrs if rr.rname == q.qname]
        for rr in known:
            if rr.rtype == q.qtype:
                reply.add_answer(rr)
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dns(zone):
    port = free_udp_port()
    server = DNSServer(Zone(zone), address="127.0.0.1", port=port,
                       logger=DNSLogger(logf=lambda s: None))
    server.start_thread()
    return server, port


def test_mx_order_fallback_and_null_mx(mailroom, tmp_path):
    sink = Sink(host="127.0.0.3")
    port = sink.port
    zone = f"""
mx.test.       60 IN MX 20 b.mx.test.
mx.test.       60 IN MX 10 a.mx.test.
a.mx.test.     60 IN A  127.0.0.2
b.mx.test.     60 IN A  127.0.0.3
nomx.test.     60 IN A  127.0.0.3
null.test.     60 IN MX 0 .
"""
    dns, dns_port = start_dns(zone)
    tmap = tmp_path / "transport"
    tmap.write_text("".join(f"{d} smtp:{d}:{port}\n"
                            for d in ("mx.test", "nomx.test", "null.test", "gone.test")))
    os.chmod(tmp_path, 0o755)
    os.chmod(tmap, 0o644)
    try:
        inst = mailroom(qmgr=True, extra={"transport_maps": f"texthash:{tmap}",
                                          "dns_servers": f"127.0.0.1:{dns_port}"})
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.sendmail("alice@mailroom.test", ["u@mx.test"], BODY)
            s.sendmail("alice@mailroom.test", ["v@nomx.test"], BODY)
            s.sendmail("alice@mailroom.test", ["w@null.test"], BODY)
            s.sendmail("alice@mailroom.test", ["x@gone.test"], BODY)
        # preference 10 first (refused: nothing listens on 127.0.0.2), then 20
        refused = inst.wait_log(rf"([0-9A-Z]{{16}}): connect to a\.mx\.test\[127\.0\.0\.2\]:{port}: "
                                r"Connection refused")
        qid = refused.group(1)
        sent = inst.wait_log(rf"{qid}: to=<u@mx\.test>, relay=b\.mx\.test\[127\.0\.0\.3\]:{port}, "
                             r".*dsn=2\.0\.0, status=sent")
        assert refused.start() < sent.start()
        # no MX: the domain's own address
        inst.wait_log(rf"to=<v@nomx\.test>, relay=nomx\.test\[127\.0\.0\.3\]:{port}, "
                      r".*status=sent")
        # null MX: bounced without a connection
        inst.wait_log(r"to=<w@null\.test>, relay=none, .*dsn=5\.1\.10, status=bounced "
                      r"\(Domain null\.test does not accept mail \(nullMX\)\)")
        # no such domain
        inst.wait_log(r"to=<x@gone\.test>, relay=none, .*dsn=5\.4\.4, status=bounced "
                      r"\(Host or domain name not found")
        assert len(sink.messages) == 2
        rcpts = sorted(m[1][0] for m in sink.messages)
        assert rcpts == ["RCPT TO:<u@mx.test>", "RCPT TO:<v@nomx.test>"]
        # both bounces reach the sender
        assert wait_for(lambda: len(maildir_files(inst, "alice")) == 2, timeout=30)
    finally:
        sink.close()
        dns.stop()


def test_next_mx_after_4xx_for_every_recipient(mailroom, tmp_path):
    """A server that answers 4xx for every recipient, at RCPT or after the
    message, is a failed host like one that refuses the connection: the
    next MX gets the mail in the same delivery attempt."""
    good = Sink(host="127.0.0.5")
    port = good.port
    at_rcpt = Sink(host="127.0.0.4", port=port, replies={"RCPT": ["451 4.3.0 busy here"]})
    at_dot = Sink(host="127.0.0.6", port=port, replies={"DOT": ["452 4.3.1 no room now"]})
    zone = """
rcpt.test.     60 IN MX 10 a.rcpt.test.
rcpt.test.     60 IN MX 20 b.rcpt.test.
a.rcpt.test.   60 IN A  127.0.0.4
b.rcpt.test.   60 IN A  127.0.0.5
dot.test.      60 IN MX 10 a.dot.test.
dot.test.      60 IN MX 20 b.dot.test.
a.dot.test.    60 IN A  127.0.0.6
b.dot.test.    60 IN A  127.0.0.5
"""
    dns, dns_port = start_dns(zone)
    tmap = tmp_path / "transport"
    tmap.write_text(f"rcpt.test smtp:rcpt.test:{port}\ndot.test smtp:dot.test:{port}\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(tmap, 0o644)
    try:
        inst = mailroom(qmgr=True, extra={"transport_maps": f"texthash:{tmap}",
                                          "dns_servers": f"127.0.0.1:{dns_port}"})
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.sendmail("alice@mailroom.test", ["u1@rcpt.test", "u2@rcpt.test"], BODY)
            s.sendmail("alice@mailroom.test", ["v@dot.test"], BODY)
        busy = inst.wait_log(rf"([0-9A-Z]{{16}}): host a\.rcpt\.test\[127\.0\.0\.4\]:{port} said: "
                             r"451 4\.3\.0 busy here \(in reply to RCPT TO command\)")
        qid = busy.group(1)
        for rcpt in ("u1", "u2"):
            sent = inst.wait_log(rf"{qid}: to=<{rcpt}@rcpt\.test>, relay=b\.rcpt\.test"
                                 rf"\[127\.0\.0\.5\]:{port}, .*dsn=2\.0\.0, status=sent")
            assert busy.start() < sent.start()
        full = inst.wait_log(rf"([0-9A-Z]{{16}}): host a\.dot\.test\[127\.0\.0\.6\]:{port} said: "
                             r"452 4\.3\.1 no room now \(in reply to end of DATA command\)")
        inst.wait_log(rf"{full.group(1)}: to=<v@dot\.test>, relay=b\.dot\.test"
                      rf"\[127\.0\.0\.5\]:{port}, .*dsn=2\.0\.0, status=sent")
        assert "status=deferred" not in inst.log_text()
        assert at_rcpt.messages == [] and len(at_dot.messages) == 1
        assert sorted(m[1] for m in good.messages) == [
            ["RCPT TO:<u1@rcpt.test>", "RCPT TO:<u2@rcpt.test>"], ["RCPT TO:<v@dot.test>"]]
    finally:
        for sink in (good, at_rcpt, at_dot):
            sink.close()
        dns.stop()
