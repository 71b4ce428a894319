"""test_smtp_agent.py - the smtp delivery agent relays to a Python sink:
relayhost, transport_maps, 4xx deferred then delivered, 5xx bounced,
SIZE refused before sending, LMTP over a Unix socket."""
import os
import re
import shutil
import smtplib
import tempfile
import time

from smtpsink import Sink
from test_delivery_e2e import maildir_files, wait_for

FAST_RETRY = {"queue_run_delay": "1s", "minimal_backoff_time": "1s",
              "maximal_backoff_time": "2s"}
BODY = (b"Message-ID: <relay-1@mailroom.test>\r\nDate: Fri, 27 Nov 2026 15:00:00 +0000\r\n"
        b"From: alice@mailroom.test\r\nSubject: out\r\n\r\nline one\r\n"
        b"..dot-stuffed line\r\n.\r\n\r\nlast line\r\n")


def send(inst, rcpts, body=BODY, sender="alice@mailroom.test", **kw):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail(sender, rcpts, body, **kw)


def strip_received(data):
    m = re.match(rb"Received: [^\r]*\r\n(\t[^\r]*\r\n)*", data)
    assert m, data[:200]
    return data[m.end():]


def test_relayhost_byte_exact(mailroom):
    sink = Sink()
    try:
        inst = mailroom(qmgr=True, extra={"relayhost": f"[127.0.0.1]:{sink.port}"})
        send(inst, ["bob@example.net", "carol@example.net"])
        qid = inst.wait_log(r"([0-9A-Z]{16}): to=<bob@example\.net>, relay=127\.0\.0\.1"
                            rf"\[127\.0\.0\.1\]:{sink.port}, delay=[0-9.]+, "
                            r"delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, dsn=2\.0\.0, "
                            r"status=sent \(250 2\.0\.0 Ok: queued as SINK1\)").group(1)
        inst.wait_log(rf"{qid}: to=<carol@example\.net>, .*status=sent")
        inst.wait_log(rf"{qid}: removed")
        (mail, rcpts, data), = sink.messages
        assert mail.startswith("MAIL FROM:<alice@mailroom.test> SIZE=")
        assert rcpts == ["RCPT TO:<bob@example.net>", "RCPT TO:<carol@example.net>"]
        assert strip_received(data) == BODY
        # PIPELINING: MAIL and both RCPTs arrived before the first reply was
        # needed; the session ended with QUIT
        assert sink.sessions[0][-1] == "QUIT"
    finally:
        sink.close()


def test_transport_maps_deferred_then_sent(mailroom, tmp_path):
    sink = Sink(replies={"RCPT": ["451 4.3.0 try again later", "250 2.1.5 Ok"]})
    tmap = tmp_path / "transport"
    tmap.write_text(f"example.net smtp:[127.0.0.1]:{sink.port}\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(tmap, 0o644)
    try:
        inst = mailroom(qmgr=True, extra={"transport_maps": f"texthash:{tmap}", **FAST_RETRY})
        send(inst, ["dave@example.net"])
        qid = inst.wait_log(r"([0-9A-Z]{16}): to=<dave@example\.net>, relay=127\.0\.0\.1"
                            r"\[127\.0\.0\.1\]:\d+, .*dsn=4\.3\.0, status=deferred \(host "
                            r"127\.0\.0\.1\[127\.0\.0\.1\]:\d+ said: 451 4\.3\.0 try again "
                            r"later \(in reply to RCPT TO command\)\)").group(1)
        inst.wait_log(rf"{qid}: to=<dave@example\.net>, .*status=sent", timeout=30)
        inst.wait_log(rf"{qid}: removed")
        assert len(sink.messages) == 1
        assert strip_received(sink.messages[0][2]) == BODY
    finally:
        sink.close()


def test_rejected_recipient_bounces_to_sender(mailroom):
    sink = Sink(replies={"RCPT": ["550 5.1.1 <nobody@example.net>: no such user"]})
    try:
        inst = mailroom(qmgr=True, extra={"relayhost": f"[127.0.0.1]:{sink.port}"})
        send(inst, ["nobody@example.net"])
        inst.wait_log(r"to=<nobody@example\.net>, .*dsn=5\.1\.1, status=bounced \(host "
                      r"127\.0\.0\.1\[127\.0\.0\.1\]:\d+ said: 550 5\.1\.1 "
                      r"<nobody@example\.net>: no such user \(in reply to RCPT TO command\)\)")
        assert wait_for(lambda: maildir_files(inst, "alice"), timeout=30), inst.log_text()[-2000:]
        notice = open(maildir_files(inst, "alice")[0], "rb").read()
        assert b"nobody@example.net" in notice and b"5.1.1" in notice
        assert sink.messages == []
    finally:
        sink.close()


def test_size_refused_before_sending(mailroom):
    sink = Sink(ehlo=["PIPELINING", "SIZE 100"])
    try:
        inst = mailroom(qmgr=True, extra={"relayhost": f"[127.0.0.1]:{sink.port}"})
        send(inst, ["big@example.net"])
        inst.wait_log(r"to=<big@example\.net>, .*dsn=5\.3\.4, status=bounced \(message size "
                      r"\d+ exceeds size limit 100 of server")
        assert sink.messages == []
        assert not any(c.startswith("MAIL") for s in sink.sessions for c in s)
    finally:
        sink.close()


def test_lmtp_per_recipient_replies(mailroom, tmp_path):
    os.chmod(tmp_path, 0o755)
    sockdir = tempfile.mkdtemp(prefix="mailroom-lmtp-", dir="/tmp")
    os.chmod(sockdir, 0o755)
    path = os.path.join(sockdir, "lmtp.sock")
    sink = Sink(path=path, lmtp=True, rcpt_replies={
        "b@lmtp.test": "452 4.2.2 <b@lmtp.test> mailbox full",
        "c@lmtp.test": "550 5.1.1 <c@lmtp.test> unknown"})
    tmap = tmp_path / "transport"
    tmap.write_text(f"lmtp.test lmtp:unix:{path}\n")
    os.chmod(tmap, 0o644)
    try:
        inst = mailroom(qmgr=True, extra={"transport_maps": f"texthash:{tmap}"})
        send(inst, ["a@lmtp.test", "b@lmtp.test", "c@lmtp.test"])
        inst.wait_log(rf"to=<a@lmtp\.test>, relay={re.escape(path)}, .*dsn=2\.0\.0, "
                      r"status=sent \(250 2\.0\.0 <a@lmtp\.test> Ok: SINK1\)")
        inst.wait_log(r"to=<b@lmtp\.test>, .*dsn=4\.2\.2, status=deferred .*mailbox full "
                      r"\(in reply to end of DATA command\)")
        inst.wait_log(r"to=<c@lmtp\.test>, .*dsn=5\.1\.1, status=bounced")
        assert sink.sessions[0][0] == "LHLO mx.mailroom.test"
        assert strip_received(sink.messages[0][2]) == BODY
    finally:
        sink.close()
        shutil.rmtree(sockdir, ignore_errors=True)


def test_starttls_may_and_encrypt(mailroom):
    """Level may: STARTTLS when offered (logged), the message goes over TLS.
    Level encrypt against a server without STARTTLS: deferred, 4.7.4."""
    inst = mailroom(qmgr=True, start=False)
    etc = os.path.join(inst.dir, "etc")
    sink = Sink(tls=(os.path.join(etc, "cert.pem"), os.path.join(etc, "key.pem")))
    plain = Sink()
    try:
        inst.set_conf(relayhost=f"[127.0.0.1]:{sink.port}", smtp_tls_security_level="may")
        inst.start()
        send(inst, ["tls@example.net"])
        inst.wait_log(rf"[0-9A-Z]{{16}}: Untrusted TLS connection established to "
                      rf"127\.0\.0\.1\[127\.0\.0\.1\]:{sink.port}: TLSv1\.[23] with cipher")
        inst.wait_log(r"to=<tls@example\.net>, .*status=sent \(250 2\.0\.0 Ok: queued as SINK1\)")
        assert sink.tls_sessions == 1
        assert strip_received(sink.messages[0][2]) == BODY
        cmds = sink.sessions[0]
        assert cmds[0].startswith("EHLO ") and cmds[1] == "STARTTLS" and cmds[2].startswith("EHLO ")
        inst.stop()
        inst.set_conf(relayhost=f"[127.0.0.1]:{plain.port}", smtp_tls_security_level="encrypt")
        inst.start()
        send(inst, ["tls2@example.net"])
        inst.wait_log(r"to=<tls2@example\.net>, relay=none, .*dsn=4\.7\.4, status=deferred "
                      r"\(TLS is required, but was not offered by host 127\.0\.0\.1")
        assert plain.messages == []
    finally:
        sink.close()
        plain.close()


def test_dsn_and_8bitmime_passed_on_only_when_offered(mailroom):
    """With DSN and 8BITMIME offered, RET/ENVID/NOTIFY/ORCPT (xtext) and
    BODY=8BITMIME go out; a server without them gets the message without
    those parameters, made 7-bit: the Subject RFC 2047 encoded, the
    unlabelled 8-bit body quoted-printable with the labels it needs."""
    body = (b"Message-ID: <dsn-1@mailroom.test>\r\nDate: Fri, 27 Nov 2026 15:00:00 +0000\r\n"
            b"From: alice@mailroom.test\r\nSubject: caf\xc3\xa9\r\n\r\n"
            b"8-bit body: \xc3\xa9t\xc3\xa9\r\n")
    full = Sink()
    bare = Sink(ehlo=["PIPELINING"])
    try:
        for sink in (full, bare):
            inst = mailroom(qmgr=True, extra={"relayhost": f"[127.0.0.1]:{sink.port}"})
            send(inst, ["dsn@example.net"], body=body,
                 mail_options=["BODY=8BITMIME", "RET=HDRS", "ENVID=env+2Bid"],
                 rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Dsn+2Bx@example.net"])
            inst.wait_log(r"to=<dsn@example\.net>, .*status=sent")
            inst.stop()
        (mail, rcpts, data), = full.messages
        assert mail == (f"MAIL FROM:<alice@mailroom.test> SIZE={mail.split('SIZE=')[1].split()[0]}"
                        " BODY=8BITMIME RET=HDRS ENVID=env+2Bid")
        assert rcpts == ["RCPT TO:<dsn@example.net> NOTIFY=SUCCESS,FAILURE "
                         "ORCPT=rfc822;Dsn+2Bx@example.net"]
        assert strip_received(data) == body
        (mail, rcpts, data), = bare.messages
        assert mail == "MAIL FROM:<alice@mailroom.test>"
        assert rcpts == ["RCPT TO:<dsn@example.net>"]
        assert strip_received(data) == (
            b"Message-ID: <dsn-1@mailroom.test>\r\nDate: Fri, 27 Nov 2026 15:00:00 +0000\r\n"
            b"From: alice@mailroom.test\r\nSubject: =?utf-8?Q?caf=C3=A9?=\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"8-bit body: =C3=A9t=C3=A9\r\n")
    finally:
        full.close()
        bare.close()


def test_smtputf8_sent_when_offered_bounced_when_not(mailroom):
    """RFC 6531: a message that needs SMTPUTF8 (here the sender said
    SMTPUTF8 and the recipient's local part is UTF-8) goes to a server
    that offers it with SMTPUTF8 on MAIL and the address unchanged; a
    server without it gets nothing and the recipient bounces with 5.6.7;
    a message that does not need it goes there as before."""
    utf8 = Sink(ehlo=["PIPELINING", "8BITMIME", "SMTPUTF8"])
    plain = Sink(ehlo=["PIPELINING", "8BITMIME"])
    rcpt = "j\u00f6rg@example.net"
    latin1 = lambda s: s.encode().decode("latin-1")   # the sink's view of the bytes
    try:
        inst = mailroom(qmgr=True, extra={"relayhost": f"[127.0.0.1]:{utf8.port}"})
        send(inst, [rcpt], mail_options=["SMTPUTF8"])
        inst.wait_log(r"to=<j\u00f6rg@example\.net>, .*dsn=2\.0\.0, status=sent")
        inst.stop()
        (mail, rcpts, data), = utf8.messages
        assert mail == "MAIL FROM:<alice@mailroom.test> SMTPUTF8"
        assert rcpts == [latin1(f"RCPT TO:<{rcpt}>")]
        assert strip_received(data) == BODY

        inst = mailroom(qmgr=True, extra={"relayhost": f"[127.0.0.1]:{plain.port}"})
        send(inst, [rcpt], mail_options=["SMTPUTF8"])
        inst.wait_log(r"to=<j\u00f6rg@example\.net>, .*dsn=5\.6\.7, status=bounced \(SMTPUTF8 "
                      r"is required, but was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]"
                      rf":{plain.port}\)")
        assert wait_for(lambda: maildir_files(inst, "alice"), timeout=30), inst.log_text()[-2000:]
        notice = open(maildir_files(inst, "alice")[0], "rb").read()
        assert b"5.6.7" in notice and b"SMTPUTF8 is required" in notice
        assert plain.messages == []
        assert not any(c.startswith("MAIL") for s in plain.sessions for c in s)
        send(inst, ["ascii@example.net"])
        inst.wait_log(r"to=<ascii@example\.net>, .*status=sent")
        (mail, rcpts, data), = plain.messages
        assert mail == "MAIL FROM:<alice@mailroom.test>"
        assert rcpts == ["RCPT TO:<ascii@example.net>"]
    finally:
        utf8.close()
        plain.close()
