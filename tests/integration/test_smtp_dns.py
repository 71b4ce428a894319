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
