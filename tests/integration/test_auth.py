"""test_auth.py - SMTP AUTH and the submission ports, as mail clients see them.

The instance (tools/mkinstance.py) has the demo users alice/alice-pw and
bob/bob-pw in a sasldb that libsasl2 reads through etc/sasl2/smtpd.conf, a
submission port (STARTTLS required, then AUTH required) and an smtps port
(TLS from the first byte, AUTH required), both with smtpd_sender_login_maps.
Clients: Python's smtplib, swaks, and a raw socket client for exact replies.
"""
import base64
import os
import re
import smtplib
import ssl
import subprocess
import time

import pytest

from conftest import free_port
from test_smtpd import INSIDE, OUTSIDE, queued
from test_tls import TLSClient


def plain(user, pw):
    return base64.b64encode(f"\0{user}\0{pw}".encode()).decode()


def smtp_port_with_auth(mailroom, extra):
    """An instance whose plain SMTP port does AUTH: not chrooted, since
    libsasl2 opens the sasldb in etc/ at each login."""
    inst = mailroom(extra=dict(extra, smtpd_sasl_auth_enable="yes"), start=False)
    path = os.path.join(inst.conf_dir, "master.conf")
    lines = open(path).read().splitlines()
    lines = [re.sub(r"^(127\.0\.0\.1:\d+\s+inet n y) y ", r"\1 n ", l)
             if l.startswith(f"127.0.0.1:{inst.ports['smtp']} ") else l for l in lines]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return inst.start()


@pytest.fixture
def inst(mailroom):
    return mailroom(extra={"smtpd_error_sleep_time": "0", "smtpd_sasl_failure_delay": "0"},
                    ports={"submission": free_port(), "smtps": free_port()})


def submission(inst, login=True):
    """A client on the submission port after STARTTLS (and AUTH PLAIN)."""
    c = TLSClient(inst.ports["submission"])
    c.reply()
    c.cmd("EHLO client.example")
    assert c.cmd("STARTTLS")[0] == 220
    c.starttls()
    code, lines = c.cmd("EHLO client.example")
    assert code == 250
    if login:
        assert c.cmd("AUTH PLAIN " + plain("alice", "alice-pw")) == \
            (235, ["2.7.0 Authentication successful"])
    return c, lines


def test_submission_requires_starttls_then_auth(inst):
    c = TLSClient(inst.ports["submission"])
    c.reply()
    code, lines = c.cmd("EHLO client.example")
    assert "STARTTLS" in lines and not [l for l in lines if l.startswith("AUTH")]
    assert c.cmd("AUTH PLAIN " + plain("alice", "alice-pw")) == \
        (530, ["5.7.0 Must issue a STARTTLS command first"])
    assert c.cmd("MAIL FROM:<alice@mailroom.test>") == \
        (530, ["5.7.0 Must issue a STARTTLS command first"])
    c.cmd("STARTTLS")
    c.starttls()
    code, lines = c.cmd("EHLO client.example")
    auth = [l for l in lines if l.startswith("AUTH ")]
    assert auth and {"PLAIN", "LOGIN", "CRAM-MD5"} <= set(auth[0].split()[1:])
    # without AUTH the submission port takes nothing
    assert c.cmd("MAIL FROM:<alice@mailroom.test>")[0] == 250
    assert c.cmd("RCPT TO:<bob@mailroom.test>") == \
        (554, ["5.7.1 <unknown[127.0.0.2]>: Client host rejected: Access denied"])


def test_auth_mechanisms_good_and_bad(inst):
    ctx = ssl._create_unverified_context()
    for mech, method in (("PLAIN", "auth_plain"), ("LOGIN", "auth_login"),
                         ("CRAM-MD5", "auth_cram_md5")):
        for pw, want in (("alice-pw", 235), ("wrong", 535)):
            s = smtplib.SMTP_SSL("127.0.0.1", inst.ports["smtps"], context=ctx, timeout=10,
                                 source_address=(OUTSIDE, 0))
            s.ehlo("client.example")
            s.user, s.password = "alice", pw
            try:
                code, text = s.auth(mech, getattr(s, method))
            except smtplib.SMTPAuthenticationError as e:
                code, text = e.smtp_code, e.smtp_error
            assert code == want, (mech, pw, text)
            if want == 535:
                assert text == b"5.7.8 Error: authentication failed: authentication failure"
            s.close()
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
        inst.wait_log(rf"warning: unknown\[127\.0\.0\.2\]: SASL {mech} authentication failed: "
                      r"authentication failure$")


def test_auth_protocol_errors(inst):
    c, _ = submission(inst, login=False)
    assert c.cmd("AUTH") == (501, ["5.5.4 Syntax: AUTH mechanism"])
    assert c.cmd("AUTH NOSUCH") == (504, ["5.5.4 Unsupported authentication mechanism"])
    assert c.cmd("AUTH PLAIN %%%") == (501, ["5.5.2 Cannot decode response"])
    assert c.cmd("AUTH LOGIN") == (334, ["VXNlcm5hbWU6"])
    assert c.cmd("*") == (501, ["5.7.0 Authentication aborted"])
    assert c.cmd("AUTH PLAIN")[0] == 334
    assert c.cmd(plain("bob", "bob-pw")) == (235, ["2.7.0 Authentication successful"])
    assert c.cmd("AUTH PLAIN " + plain("bob", "bob-pw")) == \
        (503, ["5.5.1 Error: already authenticated"])


def test_plaintext_auth_without_tls(mailroom):
    """smtpd_tls_auth_only = no: AUTH is offered in clear, but without the
    plain-text mechanisms (noplaintext), which get 538 5.7.11; the loopback
    exception list allows them."""
    inst = smtp_port_with_auth(mailroom, {"smtpd_tls_auth_only": "no",
                                          "smtpd_error_sleep_time": "0"})
    c = TLSClient(inst.ports["smtp"])
    c.reply()
    code, lines = c.cmd("EHLO client.example")
    auth = [l for l in lines if l.startswith("AUTH ")][0].split()
    assert "CRAM-MD5" in auth and "PLAIN" not in auth and "LOGIN" not in auth
    assert c.cmd("AUTH PLAIN " + plain("alice", "alice-pw")) == \
        (538, ["5.7.11 Encryption required for requested authentication mechanism"])
    inst.stop()
    inst.set_conf(smtpd_tls_auth_only_exceptions="127.0.0.0/8")
    inst.start()
    c = TLSClient(inst.ports["smtp"])
    c.reply()
    c.cmd("EHLO client.example")
    assert c.cmd("AUTH PLAIN " + plain("alice", "alice-pw"))[0] == 235


def test_auth_only_default_refuses_in_clear(mailroom):
    inst = smtp_port_with_auth(mailroom, {"smtpd_error_sleep_time": "0"})
    c = TLSClient(inst.ports["smtp"])
    c.reply()
    code, lines = c.cmd("EHLO client.example")
    assert not [l for l in lines if l.startswith("AUTH")]
    assert c.cmd("AUTH PLAIN " + plain("alice", "alice-pw")) == \
        (530, ["5.7.0 Must issue a STARTTLS command first"])


def test_relay_after_auth_only(inst):
    # the plain port: outside clients may not relay
    c = TLSClient(inst.ports["smtp"])
    c.reply()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<alice@mailroom.test>")
    assert c.cmd("RCPT TO:<someone@example.org>") == \
        (554, ["5.7.1 <someone@example.org>: Relay access denied"])
    # submission after AUTH: relaying works, the Received: header says ESMTPSA
    c, _ = submission(inst)
    assert c.cmd("MAIL FROM:<alice@mailroom.test>") == (250, ["2.1.0 Ok"])
    assert c.cmd("RCPT TO:<someone@example.org>") == (250, ["2.1.5 Ok"])
    assert c.cmd("DATA")[0] == 354
    code, lines = c.cmd("Subject: out\r\n\r\nhi\r\n.")
    assert code == 250
    qid = re.match(r"2\.0\.0 Ok: queued as (\S+)$", lines[0]).group(1)
    q = queued(inst, qid)
    assert q.attrs["protocol"] == "ESMTPSA"
    assert q.attrs["sasl_username"] == "alice" and q.attrs["sasl_method"] == "PLAIN"
    assert q.lines[2] == f"\tby mx.mailroom.test (Mailroom) with ESMTPSA id {qid}".encode()
    inst.wait_log(rf"{qid}: client=unknown\[127\.0\.0\.2\], sasl_method=PLAIN, "
                  r"sasl_username=alice$")


def test_sender_must_be_owned(inst):
    c, _ = submission(inst)
    assert c.cmd("MAIL FROM:<bob@mailroom.test>") == \
        (553, ["5.7.1 <bob@mailroom.test>: Sender address rejected: not owned by user alice"])
    assert c.cmd("MAIL FROM:<nobody@example.org>") == \
        (553, ["5.7.1 <nobody@example.org>: Sender address rejected: not owned by user alice"])
    assert c.cmd("MAIL FROM:<alice@mailroom.test>") == (250, ["2.1.0 Ok"])


def test_swaks_submission_ports(inst):
    for port, flag in ((inst.ports["submission"], "--tls"), (inst.ports["smtps"], "--tlsc")):
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", flag,
                            "--auth", "LOGIN", "--auth-user", "bob", "--auth-password", "bob-pw",
                            "--from", "bob@mailroom.test", "--to", "someone@example.org"],
                           capture_output=True, timeout=30)
        out = p.stdout.decode()
        assert p.returncode == 0, out
        assert "<~  235 2.7.0 Authentication successful" in out
        assert re.search(r"<~  250 2\.0\.0 Ok: queued as \S+", out)


def test_bruteforce_slowdown_and_limit(mailroom):
    inst = mailroom(extra={"smtpd_sasl_failure_delay": "1s", "smtpd_sasl_failure_limit": "3"},
                    ports={"smtps": free_port()})
    c = TLSClient(inst.ports["smtps"], wrap=True)
    c.reply()
    c.cmd("EHLO client.example")
    took = []
    for _ in range(2):
        t = time.monotonic()
        assert c.cmd("AUTH PLAIN " + plain("alice", "guess"))[0] == 535
        took.append(time.monotonic() - t)
    assert 0.9 < took[0] < 1.9 and 1.9 < took[1] < 3.5, took
    c.send("AUTH PLAIN " + plain("alice", "guess2") + "\r\n")
    assert c.reply()[0] == 535
    assert c.reply() == (421, ["4.7.0 mx.mailroom.test Error: too many failed authentications"])
    inst.wait_log(r"too many failed authentications from unknown\[127\.0\.0\.2\]")


def test_fail2ban_matches_our_log(mailroom):
    """Debian's fail2ban postfix filter (mode=auth) on our log: with
    syslog_name = postfix as is, and with the daemon name set to ours."""
    for name, flt in (("postfix", "postfix[mode=auth]"),
                      ("mailroom", 'postfix[mode=auth, _daemon="mailroom(-\\w+)?/\\w+"]')):
        inst = mailroom(extra={"syslog_name": name, "smtpd_sasl_failure_delay": "0"},
                        ports={"smtps": free_port()})
        c = TLSClient(inst.ports["smtps"], wrap=True)
        c.reply()
        c.cmd("EHLO client.example")
        for pw in ("a", "b"):
            assert c.cmd("AUTH PLAIN " + plain("alice", pw))[0] == 535
        c.cmd("QUIT")
        inst.wait_log(rf"{name}/smtpd\[\d+\]: warning: unknown\[127\.0\.0\.2\]: SASL PLAIN "
                      r"authentication failed: authentication failure$")
        p = subprocess.run(["fail2ban-regex", inst.logfile, flt],
                           capture_output=True, timeout=120)
        out = p.stdout.decode()
        assert p.returncode == 0, out + p.stderr.decode()
        assert re.search(r"^Lines: \d+ lines, 0 ignored, 2 matched", out, re.M), out
        inst.stop()


def smtps_auth(inst, pw, src=OUTSIDE):
    """One AUTH PLAIN as alice on a fresh smtps connection with smtplib:
    (code, text) of the reply."""
    ctx = ssl._create_unverified_context()
    s = smtplib.SMTP_SSL("127.0.0.1", inst.ports["smtps"], context=ctx, timeout=10,
                         source_address=(src, 0))
    s.ehlo("client.example")
    try:
        code, text = s.docmd("AUTH", "PLAIN " + plain("alice", pw))
    finally:
        s.close()
    return code, text.decode()


def test_auth_failures_counted_across_sessions(mailroom):
    """smtpd_client_auth_rate_limit: anvil counts failed AUTHs per client
    address over all its sessions; the client that reached the limit gets
    421 4.7.0 at its next AUTH, even with the right password, until the
    window is over. mynetworks is exempt."""
    inst = mailroom(extra={"smtpd_sasl_failure_delay": "0", "smtpd_client_auth_rate_limit": "3",
                           "anvil_rate_time_unit": "4s"},
                    ports={"smtps": free_port()})
    fail = (535, "5.7.8 Error: authentication failed: authentication failure")
    for _ in range(3):     # one failure per session: the per-session limit never bites
        assert smtps_auth(inst, "guess") == fail
    over = (421, "4.7.0 mx.mailroom.test Error: too many failed authentications per "
                 "4 seconds from 127.0.0.2")
    t0 = time.monotonic()
    assert smtps_auth(inst, "alice-pw") == over
    inst.wait_log(r"warning: AUTH failure rate limit exceeded: 3 from unknown\[127\.0\.0\.2\] "
                  r"for service \S+$")
    # the refused AUTH tried no password: no fourth failure in the log
    assert len(re.findall(r"SASL PLAIN authentication failed", inst.log_text())) == 3
    # the session ends after the 421
    c = TLSClient(inst.ports["smtps"], wrap=True)
    c.reply()
    c.cmd("EHLO client.example")
    assert c.cmd("AUTH PLAIN " + plain("alice", "alice-pw")) == (421, [over[1]])
    with pytest.raises(EOFError):
        c.cmd("NOOP")
    assert smtps_auth(inst, "alice-pw", src=INSIDE)[0] == 235
    time.sleep(max(0, 4.2 - (time.monotonic() - t0)))
    assert smtps_auth(inst, "alice-pw")[0] == 235
