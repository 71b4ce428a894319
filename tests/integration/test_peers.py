"""test_peers.py - Mailroom against real mail servers: Debian's Postfix
receives from Mailroom's smtp client and relays to Mailroom's smtpd;
Dovecot's LMTP server takes Mailroom's lmtp deliveries with one reply per
recipient. Each peer is a throwaway instance of its own (peers.py); the
bytes are checked where the mail lands, at both ends.

Postfix and Dovecot need root to start (they bind, change users, chown):
these tests run as root, as the suite does in production-like runs."""
import os
import re
import smtplib

import pytest

from peers import DovecotPeer, PostfixPeer, wait_files
from test_delivery_e2e import maildir_files, wait_for
from test_smtp_dns import start_dns

IS_ROOT = os.geteuid() == 0
pytestmark = pytest.mark.skipif(not IS_ROOT, reason="Postfix and Dovecot start as root")

BODY = (b"Message-ID: <peer-1@mailroom.test>\r\nDate: Fri, 27 Nov 2026 15:00:00 +0000\r\n"
        b"From: alice@mailroom.test\r\nTo: carol@peer.test\r\nSubject: to a real peer\r\n\r\n"
        b"line one\r\n.a line that starts with a dot\r\n..two dots\r\n.\r\n\r\nlast line\r\n")


def transport_map(tmp_path, lines):
    os.chmod(tmp_path, 0o755)
    tmap = tmp_path / "transport"
    tmap.write_text("".join(line + "\n" for line in lines))
    os.chmod(tmap, 0o644)
    return f"texthash:{tmap}"


def split_headers(data, names):
    """Check that data starts with the header fields names (in order, each
    with its continuation lines), LF line ends; return (fields, rest)."""
    fields = []
    for name in names:
        m = re.match(rb"(" + name.encode() + rb": [^\n]*\n(?:\t[^\n]*\n)*)", data)
        assert m, f"expected {name}: at {data[:300]!r}"
        fields.append(m.group(1))
        data = data[m.end():]
    return fields, data


def test_mailroom_sends_to_postfix(mailroom, tmp_path):
    """Mailroom's smtp client (transport_maps smtp:[127.0.0.x]:port) hands
    mail to a real Postfix: the known user's Maildir holds the message
    byte for byte under Postfix's and Mailroom's Received: lines; the
    unknown user is refused at RCPT by Postfix and bounced to the sender."""
    peer = PostfixPeer(users=("carol",)).start()
    try:
        inst = mailroom(qmgr=True, extra={
            "transport_maps": transport_map(tmp_path, [
                f"peer.test smtp:[{peer.addr}]:{peer.port}"])})
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.sendmail("alice@mailroom.test", ["carol@peer.test", "nobody@peer.test"], BODY)
        relay = rf"{re.escape(peer.addr)}\[{re.escape(peer.addr)}\]:{peer.port}"
        m = inst.wait_log(rf"([0-9A-Z]{{16}}): to=<carol@peer\.test>, relay={relay}, .*"
                          r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as ([0-9A-F]+)\)",
                          timeout=30)
        qid, peer_qid = m.group(1), m.group(2)
        inst.wait_log(rf"{qid}: to=<nobody@peer\.test>, relay={relay}, .*dsn=5\.1\.1, "
                      rf"status=bounced \(host {relay} said: 550 5\.1\.1 <nobody@peer\.test>: "
                      r"Recipient address rejected: User unknown in local recipient table "
                      r"\(in reply to RCPT TO command\)\)")
        # Postfix's side of the story
        files = wait_files(lambda: peer.maildir("carol"))
        assert len(files) == 1, peer.log_text()[-2000:]
        assert re.search(rf"{peer_qid}: to=<carol@peer\.test>, relay=virtual, .*status=sent "
                         r"\(delivered to maildir\)", peer.log_text())
        fields, rest = split_headers(open(files[0], "rb").read(),
                                     ["Return-Path", "X-Original-To", "Delivered-To",
                                      "Received", "Received"])
        assert fields[0] == b"Return-Path: <alice@mailroom.test>\n"
        assert fields[3].startswith(b"Received: from mx.mailroom.test (localhost [127.0.0.1])\n"
                                    b"\tby mx.peer.test (Postfix) with ESMTP id " + peer_qid.encode())
        assert fields[4].startswith(b"Received: from ")  # Mailroom's own
        assert b"by mx.mailroom.test" in fields[4]
        assert rest == BODY.replace(b"\r\n", b"\n")
        # the bounce for nobody@ reaches alice
        assert wait_for(lambda: maildir_files(inst, "alice"), timeout=30)
        notice = open(maildir_files(inst, "alice")[0], "rb").read()
        assert b"nobody@peer.test" in notice and b"5.1.1" in notice
    finally:
        peer.close()


def test_postfix_relays_to_mailroom(mailroom):
    """A real Postfix with relayhost = Mailroom's smtpd: the message sent to
    Postfix lands in the Mailroom user's Maildir byte for byte, and
    Postfix logs Mailroom's queue ID. Postfix connects from its own
    127.0.0.x address (smtp_bind_address), which the DNS stub names
    mx.peer.test both ways: smtpd shows that name."""
    peer = PostfixPeer()
    last = peer.addr.split(".")[-1]
    dns, dns_port = start_dns(f"""
{last}.0.0.127.in-addr.arpa. 60 IN PTR mx.peer.test.
mx.peer.test.                 60 IN A   {peer.addr}
""")
    try:
        inst = mailroom(qmgr=True, extra={"smtpd_peername_lookup": "yes",
                                          "dns_servers": f"127.0.0.1:{dns_port}"})
        peer.configure(relayhost=f"[127.0.0.1]:{inst.ports['smtp']}",
                       smtp_bind_address=peer.addr)
        peer.start()
        body = BODY.replace(b"To: carol@peer.test", b"To: bob@mailroom.test")
        with smtplib.SMTP(peer.addr, peer.port, timeout=30) as s:
            s.sendmail("dave@peer.test", ["bob@mailroom.test"], body)
        m = inst.wait_log(r"([0-9A-Z]{16}): to=<bob@mailroom\.test>, relay=local, .*status=sent",
                          timeout=30)
        qid = m.group(1)
        assert wait_for(lambda: re.search(
            rf"to=<bob@mailroom\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{inst.ports['smtp']}, "
            rf".*dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as {qid}\)",
            peer.log_text())), peer.log_text()[-2000:]
        inst.wait_log(rf"{qid}: client=mx\.peer\.test\[{re.escape(peer.addr)}\]")
        (path,) = maildir_files(inst, "bob")
        fields, rest = split_headers(open(path, "rb").read(),
                                     ["Return-Path", "Delivered-To", "Received", "Received"])
        assert fields[0] == b"Return-Path: <dave@peer.test>\n"
        assert fields[2].startswith(b"Received: from mx.peer.test (mx.peer.test ["
                                    + peer.addr.encode() + b"])\n")
        assert fields[3].startswith(b"Received: from ")
        assert b"by mx.peer.test (Postfix) with ESMTP" in fields[3]
        assert rest == body.replace(b"\r\n", b"\n")
    finally:
        peer.close()
        dns.stop()


def test_dovecot_lmtp_per_recipient(mailroom, tmp_path):
    """Mailroom's lmtp client delivers to a real Dovecot LMTP server, over
    its Unix socket and over TCP on 127.0.0.x: each known user's Maildir
    holds the message byte for byte; an unknown user is refused at RCPT
    (5.1.1, bounced) and one over quota after DATA (its own reply), while
    the others in the same transaction are delivered."""
    peer = DovecotPeer(users=("dora", "fred", "emil@tcp.lmtp.test"), quota={"fred": "100B"}).start()
    try:
        inst = mailroom(qmgr=True, extra={"transport_maps": transport_map(tmp_path, [
            f"lmtp.test lmtp:unix:{peer.socket}",
            f"tcp.lmtp.test lmtp:[{peer.addr}]:{peer.port}"])})
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.sendmail("alice@mailroom.test",
                       ["dora@lmtp.test", "zed@lmtp.test", "fred@lmtp.test"], BODY)
        sock = re.escape(peer.socket)
        m = inst.wait_log(rf"([0-9A-Z]{{16}}): to=<dora@lmtp\.test>, relay={sock}, .*"
                          r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 <dora@lmtp\.test> ",
                          timeout=30)
        qid = m.group(1)
        inst.wait_log(rf"{qid}: to=<zed@lmtp\.test>, relay={sock}, .*dsn=5\.1\.1, "
                      rf"status=bounced \(host {sock} said: 550 5\.1\.1 <zed@lmtp\.test> "
                      r"User doesn't exist: zed@lmtp\.test \(in reply to RCPT TO command\)\)")
        inst.wait_log(rf"{qid}: to=<fred@lmtp\.test>, relay={sock}, .*dsn=5\.2\.2, "
                      r"status=bounced \(host .* said: 552 5\.2\.2 <fred@lmtp\.test> Quota "
                      r"exceeded.*\(in reply to end of DATA command\)\)")
        # several recipients in one transaction: Dovecot adds no Delivered-To
        (path,) = wait_files(lambda: peer.maildir("dora"))
        fields, rest = split_headers(open(path, "rb").read(),
                                     ["Return-Path", "Received", "Received"])
        assert fields[0] == b"Return-Path: <alice@mailroom.test>\n"
        assert fields[1].startswith(b"Received: from mx.mailroom.test\n\tby lmtp.lmtp.test "
                                    b"with LMTP")
        assert rest == BODY.replace(b"\r\n", b"\n")
        assert peer.maildir("fred") == []
        # over TCP on the peer's own loopback address
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.sendmail("alice@mailroom.test", ["emil@tcp.lmtp.test"], BODY)
        relay = rf"{re.escape(peer.addr)}\[{re.escape(peer.addr)}\]:{peer.port}"
        inst.wait_log(rf"to=<emil@tcp\.lmtp\.test>, relay={relay}, .*dsn=2\.0\.0, status=sent",
                      timeout=30)
        (path,) = wait_files(lambda: peer.maildir("emil@tcp.lmtp.test"))
        assert split_headers(open(path, "rb").read(), ["Return-Path", "Delivered-To", "Received",
                                                       "Received"])[1] == BODY.replace(b"\r\n", b"\n")
    finally:
        peer.close()


MIME8 = (b"Message-ID: <peer-8@mailroom.test>\r\nDate: Fri, 27 Nov 2026 15:00:00 +0000\r\n"
         b"From: alice@mailroom.test\r\nTo: carol@peer.test\r\nSubject: caf\xc3\xa9\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"=_b\"\r\n"
         b"Content-Transfer-Encoding: 8bit\r\n\r\n"
         b"--=_b\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: 8bit\r\n\r\n"
         b"d\xc3\xa9j\xc3\xa0 vu = 100% \r\n.leading dot\r\n"
         b"--=_b\r\n"
         b"Content-Type: application/octet-stream\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\n"
         b"AAECAwQF\r\n"
         b"--=_b--\r\n")
MIME8_DOWNGRADED = (
    b"Message-ID: <peer-8@mailroom.test>\nDate: Fri, 27 Nov 2026 15:00:00 +0000\n"
    b"From: alice@mailroom.test\nTo: carol@peer.test\nSubject: =?utf-8?Q?caf=C3=A9?=\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=\"=_b\"\n"
    b"Content-Transfer-Encoding: 7bit\n\n"
    b"--=_b\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: quoted-printable\n\n"
    b"d=C3=A9j=C3=A0 vu =3D 100%=20\n.leading dot\n"
    b"--=_b\n"
    b"Content-Type: application/octet-stream\n"
    b"Content-Transfer-Encoding: base64\n\n"
    b"AAECAwQF\n"
    b"--=_b--\n")
UNLABELLED = (b"Message-ID: <peer-9@mailroom.test>\r\nDate: Fri, 27 Nov 2026 15:00:00 +0000\r\n"
              b"From: J\xc3\xb6rg <alice@mailroom.test>\r\nTo: carol@peer.test\r\n"
              b"Subject: gr\xc3\xbc\xc3\x9fe\r\n\r\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n")
UNLABELLED_DOWNGRADED = (
    b"Message-ID: <peer-9@mailroom.test>\nDate: Fri, 27 Nov 2026 15:00:00 +0000\n"
    b"From: =?utf-8?Q?J=C3=B6rg?= <alice@mailroom.test>\nTo: carol@peer.test\n"
    b"Subject: =?utf-8?Q?gr=C3=BC=C3=9Fe?=\n"
    b"MIME-Version: 1.0\nContent-Type: text/plain; charset=unknown-8bit\n"
    b"Content-Transfer-Encoding: quoted-printable\n\n"
    b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln\n")


def test_8bitmime_downgrade_to_postfix(mailroom, tmp_path):
    """A Postfix that does not offer 8BITMIME (smtpd_discard_ehlo_keywords)
    gets the 8-bit text part as quoted-printable, relabelled, the 8-bit
    Subject RFC 2047 encoded, the base64 part and the structure as sent;
    a message without MIME labels but with an 8-bit body and an 8-bit
    display name gets the labels, a quoted-printable body and an encoded
    name."""
    peer = PostfixPeer(users=("carol",),
                       extra={"smtpd_discard_ehlo_keywords": "8bitmime"}).start()
    try:
        inst = mailroom(qmgr=True, extra={
            "transport_maps": transport_map(tmp_path, [
                f"peer.test smtp:[{peer.addr}]:{peer.port}"])})
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.sendmail("alice@mailroom.test", ["carol@peer.test"], MIME8,
                       mail_options=["BODY=8BITMIME"])
            s.sendmail("alice@mailroom.test", ["carol@peer.test"], UNLABELLED,
                       mail_options=["BODY=8BITMIME"])
        files = wait_files(lambda: peer.maildir("carol"), count=2)
        assert len(files) == 2
        got = sorted(split_headers(open(f, "rb").read(),
                                   ["Return-Path", "X-Original-To", "Delivered-To",
                                    "Received", "Received"])[1] for f in files)
        assert got == sorted([MIME8_DOWNGRADED, UNLABELLED_DOWNGRADED])
        assert "discarding EHLO keywords: 8BITMIME" in peer.log_text()
        # Postfix saw no BODY=8BITMIME: the messages arrived as 7-bit
        assert all(max(m) < 0x80 for m in got)
        # disable_mime_output_conversion = yes: as it is
        inst.stop()
        inst.set_conf(disable_mime_output_conversion="yes")
        inst.start()
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
            s.sendmail("alice@mailroom.test", ["carol@peer.test"], MIME8,
                       mail_options=["BODY=8BITMIME"])
        files = wait_files(lambda: peer.maildir("carol"), count=3)
        assert len(files) == 3
        raw = [split_headers(open(f, "rb").read(),
                             ["Return-Path", "X-Original-To", "Delivered-To", "Received",
                              "Received"])[1] for f in files]
        assert MIME8.replace(b"\r\n", b"\n") in raw
    finally:
        peer.close()
