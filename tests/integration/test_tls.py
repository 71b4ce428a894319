"""test_tls.py - STARTTLS, wrapper mode, resumption, as TLS clients see them.

Each instance gets a fresh self-signed certificate (tools/mkinstance.py runs
openssl req). The clients are openssl s_client, swaks and Python's ssl
module; the assertions are on what they print, the replies, the queue file
and the log.
"""
import os
import re
import socket
import ssl
import subprocess

import pytest

import mkinstance
from conftest import free_port
from test_smtpd import OUTSIDE, queued

S_CLIENT_TIMEOUT = 20


def s_client(port, args, text="QUIT\n"):
    """Run openssl s_client against 127.0.0.1:port; stdout+stderr as text."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-crlf", "-ign_eof", "-servername", "mx.mailroom.test"] + args,
                       input=text.encode(), capture_output=True, timeout=S_CLIENT_TIMEOUT)
    return (p.stdout + p.stderr).decode("utf-8", "replace")


class TLSClient:
    """A raw SMTP client that can switch to TLS (Python's ssl)."""

    def __init__(self, port, src=OUTSIDE, wrap=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                             source_address=(src, 0))
        self.buf = b""
        if wrap:
            self.starttls()

    def starttls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname="mx.mailroom.test")
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("closed; have %r" % self.buf)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode()
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()


@pytest.fixture
def inst(mailroom):
    from conftest import free_port
    return mailroom(extra={"smtpd_error_sleep_time": "0"}, ports={"smtps": free_port()})


def test_starttls_handshake_and_log(inst):
    out = s_client(inst.ports["smtp"], ["-starttls", "smtp", "-brief"])
    assert "Protocol version: TLSv1.3" in out
    assert "Ciphersuite: TLS_AES_256_GCM_SHA384" in out
    inst.wait_log(r"smtpd\[\d+\]: Anonymous TLS connection established from "
                  r"unknown\[127\.0\.0\.1\]: TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 "
                  r"\(256/256 bits\)$")
    inst.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 starttls=1 quit=1 commands=3$")


def test_tls12_works_and_prefers_our_ciphers(inst):
    out = s_client(inst.ports["smtp"], ["-starttls", "smtp", "-brief", "-tls1_2",
                                        "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                        "ECDHE-ECDSA-AES256-GCM-SHA384"])
    assert "Protocol version: TLSv1.2" in out
    # smtpd_tls_ciphers lists AES-GCM from the strongest, and our order wins
    assert "Ciphersuite: ECDHE-ECDSA-AES256-GCM-SHA384" in out


@pytest.mark.parametrize("proto", ["-tls1", "-tls1_1"])
def test_old_protocols_refused(inst, proto):
    for port, extra in ((inst.ports["smtp"], ["-starttls", "smtp"]), (inst.ports["smtps"], [])):
        out = s_client(port, extra + ["-brief", proto, "-cipher", "DEFAULT@SECLEVEL=0"])
        assert "CONNECTION ESTABLISHED" not in out
    inst.wait_log(r"SSL_accept error from unknown\[127\.0\.0\.1\]: handshake failed: "
                  r".*unsupported protocol")


def test_weak_ciphers_refused(inst):
    out = s_client(inst.ports["smtps"], ["-brief", "-tls1_2", "-cipher", "AES128-SHA"])
    assert "CONNECTION ESTABLISHED" not in out


def test_wrappermode_banner_over_tls(inst):
    c = TLSClient(inst.ports["smtps"], wrap=True)
    assert c.reply() == (220, ["mx.mailroom.test ESMTP Mailroom"])
    code, lines = c.cmd("EHLO client.example")
    assert code == 250 and "STARTTLS" not in lines
    assert c.cmd("STARTTLS") == (554, ["5.5.1 Error: TLS already active"])
    assert c.cmd("QUIT") == (221, ["2.0.0 Bye"])


def test_starttls_forgets_and_discards_injected_commands(inst):
    c = TLSClient(inst.ports["smtp"])
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.example")[0] == 250
    # An attacker in the path appends a command to STARTTLS in clear.
    c.send("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
    assert c.reply() == (220, ["2.0.0 Ready to start TLS"])
    c.starttls()
    # The injected MAIL was dropped unread, and the EHLO before is forgotten.
    assert c.cmd("MAIL FROM:<a@example.org>") == (503, ["5.5.1 Error: send HELO/EHLO first"])
    code, lines = c.cmd("EHLO client.example")
    assert code == 250 and "STARTTLS" not in lines
    assert c.cmd("MAIL FROM:<a@example.org>") == (250, ["2.1.0 Ok"])
    assert c.cmd("QUIT")[0] == 221
    inst.wait_log(r"warning: unknown\[127\.0\.0\.2\]: discarding 30 bytes of input "
                  r"sent with STARTTLS")


def test_received_header_records_tls(inst):
    c = TLSClient(inst.ports["smtp"])
    c.reply()
    c.cmd("EHLO client.example")
    c.cmd("STARTTLS")
    c.starttls()
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    code, lines = c.cmd("Subject: tls\r\n\r\nbody\r\n.")
    assert code == 250
    qid = re.match(r"2\.0\.0 Ok: queued as (\S+)$", lines[0]).group(1)
    q = queued(inst, qid)
    assert q.attrs["protocol"] == "ESMTPS"
    assert q.lines[0] == b"Received: from client.example (unknown [127.0.0.2])"
    assert q.lines[1] == (b"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
                          b"(256/256 bits))")
    assert q.lines[2] == f"\tby mx.mailroom.test (Mailroom) with ESMTPS id {qid}".encode()


def test_swaks_tls_and_tlsc(inst):
    # the smtps port of the test instance is a submission port: AUTH first
    auth = ["--auth", "PLAIN", "--auth-user", "bob", "--auth-password", "bob-pw"]
    for port, flag in ((inst.ports["smtp"], ["--tls"]), (inst.ports["smtps"], ["--tlsc"] + auth)):
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}"] + flag +
                           ["--to", "alice@mailroom.test", "--from", "bob@mailroom.test",
                            "--helo", "client.example"],
                           capture_output=True, timeout=30)
        out = p.stdout.decode()
        assert p.returncode == 0, out
        assert "TLS started with cipher TLSv1.3:TLS_AES_256_GCM_SHA384:256" in out
        assert re.search(r"<~  250 2\.0\.0 Ok: queued as \S+", out)


def test_encrypt_level_requires_starttls(mailroom):
    inst = mailroom(extra={"smtpd_tls_security_level": "encrypt",
                           "smtpd_error_sleep_time": "0"})
    c = TLSClient(inst.ports["smtp"])
    c.reply()
    code, lines = c.cmd("EHLO client.example")
    assert "STARTTLS" in lines
    assert c.cmd("MAIL FROM:<a@example.org>") == (530, ["5.7.0 Must issue a STARTTLS command first"])
    assert c.cmd("VRFY alice") == (530, ["5.7.0 Must issue a STARTTLS command first"])
    assert c.cmd("STARTTLS") == (220, ["2.0.0 Ready to start TLS"])
    c.starttls()
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<a@example.org>") == (250, ["2.1.0 Ok"])


def test_no_tls_level_none(mailroom):
    inst = mailroom(extra={"smtpd_tls_security_level": "none"})
    c = TLSClient(inst.ports["smtp"])
    c.reply()
    code, lines = c.cmd("EHLO client.example")
    assert "STARTTLS" not in lines
    assert c.cmd("STARTTLS") == (502, ["5.5.1 Error: STARTTLS not offered: TLS is off on this service"])


def test_broken_key_disables_tls_not_mail(mailroom):
    inst = mailroom(start=False)
    with open(os.path.join(inst.conf_dir, "key.pem"), "w") as f:
        f.write("not a key\n")
    inst.start()
    c = TLSClient(inst.ports["smtp"])
    c.reply()
    code, lines = c.cmd("EHLO client.example")
    assert code == 250 and "STARTTLS" not in lines
    assert c.cmd("STARTTLS") == (454, ["4.7.0 TLS not available due to local problem"])
    assert c.cmd("MAIL FROM:<a@example.org>") == (250, ["2.1.0 Ok"])
    inst.wait_log(r"warning: TLS is unavailable: .*key\.pem")


def test_resumption_across_processes(mailroom, tmp_path):
    from conftest import free_port
    # max_use=1: every smtpd process serves one client and exits, so the
    # second connection is served by another process.
    inst = mailroom(extra={"max_use": "1"}, ports={"smtps": free_port()})
    sess = str(tmp_path / "sess.pem")
    for port, extra in ((inst.ports["smtps"], []), (inst.ports["smtp"], ["-starttls", "smtp"])):
        out1 = s_client(port, extra + ["-sess_out", sess])
        assert "New, TLSv1.3" in out1
        out2 = s_client(port, extra + ["-sess_in", sess])
        assert "Reused, TLSv1.3" in out2
        os.unlink(sess)
    log = inst.log_text()
    pids = re.findall(r"smtpd\[(\d+)\]: Anonymous TLS connection established from "
                      r"unknown\[127\.0\.0\.1\]: TLSv1\.3 .*\(session reused\)$", log, re.M)
    assert len(pids) == 2
    fresh = re.findall(r"smtpd\[(\d+)\]: Anonymous TLS connection established from "
                       r"unknown\[127\.0\.0\.1\]: TLSv1\.3 .*bits\)$", log, re.M)
    assert len(fresh) == 2 and not set(pids) & set(fresh)
    key = os.path.join(inst.dir, "data", "tls_ticket.key")
    assert os.stat(key).st_size == 48 and os.stat(key).st_mode & 0o077 == 0


def test_check_certificate(mailroom):
    inst = mailroom(start=False)
    etc = inst.conf_dir
    r = inst.run(["mailroom", "check"])
    assert r.returncode == 0, r.stderr
    assert b"certificate" not in r.stdout + r.stderr
    # a key that belongs to another certificate
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-out", f"{etc}/other.pem"], check=True)
    inst.set_conf(smtpd_tls_key_file=f"{etc}/other.pem")
    r = inst.run(["mailroom", "check"])
    assert r.returncode == 1
    assert (f"smtpd_tls_cert_file/smtpd_tls_key_file: private key {etc}/other.pem "
            f"does not match certificate {etc}/cert.pem\n") in r.stderr.decode()
    # a certificate that expires in 10 days: a warning, not a problem
    mkinstance.make_cert(etc, days=10)
    inst.set_conf(smtpd_tls_key_file=f"{etc}/key.pem")
    r = inst.run(["mailroom", "check"])
    assert r.returncode == 0, r.stderr
    assert re.search(rf"note: {re.escape(etc)}/cert\.pem: certificate expires on "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (9|10) days\)", r.stdout.decode())


def test_sni_picks_the_certificate(mailroom):
    """tls_server_sni_maps: the certificate for the name the client asks
    for, the default one for any other name."""
    from conftest import free_port
    inst = mailroom(start=False, ports={"smtps": free_port()})
    etc = inst.conf_dir
    sub = os.path.join(etc, "other")
    os.makedirs(sub)
    mkinstance.make_cert(sub, name="mail.example.org")
    with open(os.path.join(etc, "sni"), "w") as f:
        f.write(f"mail.example.org  {sub}/cert.pem {sub}/key.pem\n")
    inst.set_conf(tls_server_sni_maps=f"texthash:{etc}/sni")
    inst.start()
    for name, want in (("mail.example.org", "CN = mail.example.org"),
                       ("mx.mailroom.test", "CN = mx.mailroom.test"),
                       ("unknown.example", "CN = mx.mailroom.test")):
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{inst.ports['smtps']}",
                            "-servername", name, "-brief"], input=b"QUIT\n",
                           capture_output=True, timeout=S_CLIENT_TIMEOUT)
        out = (p.stdout + p.stderr).decode()
        assert f"Peer certificate: {want}" in out, (name, out)


def test_check_certificate_set_in_master_conf(mailroom):
    """mailroom check also checks a certificate and key that a service sets
    with -o in master.conf, and names that line: a missing file, one that
    cannot be read, a key that is not the certificate's (here the
    mailroom.conf key beside the service's own certificate); a service
    with a matching pair of its own passes."""
    inst = mailroom(start=False, ports={"submission": free_port(), "smtps": free_port()})
    etc = inst.conf_dir
    own = os.path.join(etc, "own")
    os.makedirs(own)
    mkinstance.make_cert(own, name="submit.mailroom.test")
    path = os.path.join(etc, "master.conf")
    lines = open(path).read().splitlines()
    sub = next(i for i, l in enumerate(lines) if l.startswith(f"127.0.0.1:{inst.ports['submission']} "))
    smtps = next(i for i, l in enumerate(lines) if l.startswith(f"127.0.0.1:{inst.ports['smtps']} "))
    base_sub, base_smtps = lines[sub], lines[smtps]

    def check(sub_opts, smtps_opts):
        lines[sub] = base_sub + sub_opts
        lines[smtps] = base_smtps + smtps_opts
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = inst.run(["mailroom", "check"])
        return r.returncode, r.stderr.decode()

    # the service's own pair: fine
    code, err = check(f" -o smtpd_tls_cert_file={own}/cert.pem -o smtpd_tls_key_file={own}/key.pem",
                      "")
    assert code == 0, err
    # missing, and a directory where a file should be
    code, err = check(f" -o smtpd_tls_cert_file={etc}/nosuch.pem",
                      f" -o smtpd_tls_key_file={own}")
    assert code == 1
    assert f"{path}:{sub + 1}: {etc}/nosuch.pem: No such file or directory\n" in err, err
    assert f"{path}:{smtps + 1}: {own}: Is a directory\n" in err, err
    # the service's certificate with the key of mailroom.conf
    code, err = check(f" -o smtpd_tls_cert_file={own}/cert.pem", "")
    assert code == 1
    assert (f"{path}:{sub + 1}: smtpd_tls_cert_file/smtpd_tls_key_file: private key "
            f"{etc}/key.pem does not match certificate {own}/cert.pem\n") in err, err
    # each service is checked with its own values only: the smtps line
    # (no -o for TLS) is not blamed, and mailroom.conf's pair still passes
    assert f"{path}:{smtps + 1}:" not in err and "\nsmtpd_tls_cert_file" not in "\n" + err
    # a key given as $smtpd_tls_cert_file follows the service's certificate
    code, err = check(f" -o smtpd_tls_cert_file={own}/both.pem"
                      f" -o smtpd_tls_key_file=$smtpd_tls_cert_file", "")
    assert code == 1 and f"{path}:{sub + 1}: {own}/both.pem: No such file" in err, err
    with open(f"{own}/both.pem", "w") as f:
        f.write(open(f"{own}/cert.pem").read() + open(f"{own}/key.pem").read())
    code, err = check(f" -o smtpd_tls_cert_file={own}/both.pem"
                      f" -o smtpd_tls_key_file=$smtpd_tls_cert_file", "")
    assert code == 0, err


def test_resumed_session_gets_a_new_ticket(mailroom, tmp_path):
    """A TLS 1.3 client uses a ticket once (RFC 8446 C.4; OpenSSL's client
    marks it spent), so each resumed connection must bring a new ticket,
    or every other connection of a client that keeps reconnecting is a
    full handshake. openssl s_client, five connections in a row, each
    offering the session the one before saved: four resumed."""
    inst = mailroom(ports={"smtps": free_port()})
    seen = []
    for i in range(5):
        args = ["-sess_out", str(tmp_path / f"s{i}")]
        if i:
            args += ["-sess_in", str(tmp_path / f"s{i - 1}")]
        out = s_client(inst.ports["smtps"], args)
        assert "221 " in out, out          # read up to QUIT: the tickets came
        # s_client saves a session when a ticket arrives
        assert os.path.exists(tmp_path / f"s{i}"), f"no new ticket on connection {i + 1}"
        seen.append("Reused, TLSv1.3" in out)
    assert seen == [False, True, True, True, True]
