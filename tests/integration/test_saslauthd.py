"""test_saslauthd.py - SMTP AUTH checked by a real saslauthd.

libsasl2 in smtpd may hand plain-text passwords to saslauthd
(`pwcheck_method: saslauthd` in the instance's etc/sasl2/smtpd.conf), as
sites do that keep their users in /etc/shadow, PAM or LDAP. The test runs
Debian's saslauthd (sasl2-bin) with `-a shadow` on its own mux path inside
the instance, for a system user it creates with a known password and
removes afterwards (its name carries the test's pid, so parallel runs do
not collide). saslauthd's `-a sasldb` cannot be used instead: it reads only
/etc/sasldb2, whatever -O says. Clients: smtplib and a raw TLS client.
"""
import os
import smtplib
import ssl
import subprocess
import time

import pytest

from conftest import IS_ROOT, free_port
from test_auth import plain
from test_smtpd import OUTSIDE
from test_tls import TLSClient

PASSWORD = "Sasl-Test-pw1"


def run_retrying(args, **kw):
    """useradd/userdel: another test run may hold the passwd lock a moment."""
    for _ in range(20):
        p = subprocess.run(args, capture_output=True, **kw)
        if p.returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{args}: {p.stderr.decode()}")


@pytest.fixture
def system_user():
    assert IS_ROOT, "saslauthd -a shadow reads /etc/shadow: run the tests as root"
    name = f"mrsasl{os.getpid()}"
    subprocess.run(["userdel", name], capture_output=True)
    run_retrying(["useradd", "--no-create-home", "--home-dir", "/nonexistent",
                  "--shell", "/usr/sbin/nologin", name])
    try:
        run_retrying(["chpasswd"], input=f"{name}:{PASSWORD}\n".encode())
        yield name
    finally:
        run_retrying(["userdel", name])


@pytest.fixture
def saslauthd(mailroom, system_user):
    """An instance whose smtps port checks passwords through saslauthd,
    and the saslauthd process (its debug output in saslauthd.log)."""
    inst = mailroom(extra={"smtpd_sasl_failure_delay": "0"}, ports={"smtps": free_port()},
                    start=False)
    run = os.path.join(inst.dir, "saslauthd")
    os.makedirs(run)
    os.chmod(run, 0o755)
    with open(os.path.join(inst.dir, "etc", "sasl2", "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: saslauthd\n"
                f"saslauthd_path: {run}/mux\n"
                "mech_list: PLAIN LOGIN\n")
    log = open(os.path.join(inst.dir, "saslauthd.log"), "wb")
    proc = subprocess.Popen(["/usr/sbin/saslauthd", "-a", "shadow", "-m", run, "-n", "1", "-d"],
                            stdout=log, stderr=subprocess.STDOUT,
                            # on SIGTERM it signals its whole process group
                            start_new_session=True)
    try:
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(run, "mux")):
            assert proc.poll() is None and time.time() < deadline, \
                open(log.name).read()
            time.sleep(0.05)
        inst.start()
        yield inst, system_user, log.name
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def auth(inst, user, pw, mech="PLAIN"):
    ctx = ssl._create_unverified_context()
    s = smtplib.SMTP_SSL("127.0.0.1", inst.ports["smtps"], context=ctx, timeout=10,
                         source_address=(OUTSIDE, 0))
    s.ehlo("client.example")
    s.user, s.password = user, pw
    try:
        return s.auth(mech, getattr(s, "auth_" + mech.lower()))
    except smtplib.SMTPAuthenticationError as e:
        return e.smtp_code, e.smtp_error
    finally:
        s.close()


def wait_text(path, text, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as f:
            if text in f.read():
                return True
        time.sleep(0.1)
    with open(path) as f:
        raise AssertionError(f"{text!r} not in {path}:\n{f.read()}")


def test_auth_through_saslauthd(saslauthd):
    inst, user, log = saslauthd
    c = TLSClient(inst.ports["smtps"], wrap=True)
    c.reply()
    code, lines = c.cmd("EHLO client.example")
    assert "AUTH PLAIN LOGIN" in lines
    assert c.cmd("AUTH PLAIN " + plain(user, PASSWORD)) == \
        (235, ["2.7.0 Authentication successful"])
    c.cmd("QUIT")
    wait_text(log, f"auth success: [user={user}] [service=smtp]")
    assert auth(inst, user, PASSWORD, "LOGIN") == (235, b"2.7.0 Authentication successful")
    assert auth(inst, user, "wrong") == \
        (535, b"5.7.8 Error: authentication failed: authentication failure")
    wait_text(log, f"auth failure: [user={user}] [service=smtp]")
    inst.wait_log(r"warning: unknown\[127\.0\.0\.2\]: SASL PLAIN authentication failed: "
                  r"authentication failure$")
    # the sasldb users of the instance are not known to saslauthd
    assert auth(inst, "alice", "alice-pw")[0] == 535


def test_saslauthd_down_is_a_failure_not_a_pass(saslauthd):
    """saslauthd gone: libsasl2 cannot check the password, the client gets
    a temporary failure (454 4.7.0) and is not let in."""
    inst, user, log = saslauthd
    os.unlink(os.path.join(inst.dir, "saslauthd", "mux"))
    code, text = auth(inst, user, PASSWORD)
    assert code == 454, text
    assert text.startswith(b"4.7.0 Temporary authentication failure: "), text
