#!/usr/bin/python3
"""tls_bench.py - submission over TLS, Mailroom beside Postfix: full
handshakes against resumed ones.

Each server gets a fresh throwaway instance that accepts mail and keeps it
(no queue manager, so the figures are the TLS handshake, AUTH and the
commit of one message, not delivery): Mailroom (tools/mkinstance.py:
smtpd, cleanup, no qmgr) and, when Debian's postfix package is installed,
a private Postfix (main.cf/master.cf in a temp folder, as bench/smtp-bench.sh
makes them: smtpd, cleanup, trivial-rewrite, anvil, tlsmgr, postlogd; no
qmgr; in_flow_delay = 0). Both listen on a port that speaks TLS from the
first byte (smtps), with the same certificate and key, and check AUTH PLAIN
against the same sasldb (Cyrus SASL, auxprop).

smtp-load sends MSGS messages of 4 KiB from 10 clients, each on its own
connection, AUTH PLAIN as alice, to alice. Mode "full" makes a full TLS
handshake per connection; mode "resume" lets each client thread offer the
last session it got (session tickets: Mailroom's are sealed with keys
derived from a shared secret, Postfix's come from tlsmgr; a new process
of either server takes them). tls_reused counts the connections that
resumed: in mode resume every connection but each thread's first should.

CPU: user+system seconds of the server's master and every process it
reaped until it stopped (both masters run in the foreground, as our
children), per message; the client's CPU is not counted.

    bench/tls_bench.py BUILD [MSGS]

Prints one RESULT line per server and mode. Set TLS_BENCH_SERVERS to
"mailroom" or "postfix" to run one of them.
"""
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
os.environ["MAILROOM_BUILD"] = BUILD
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import conftest  # noqa: E402
import mkinstance  # noqa: E402

POSTFIX = "/usr/sbin/postfix"


def load(label, port, mode, msgs):
    """Run smtp-load; its RESULT line."""
    args = [os.path.join(BUILD, "bin", "smtp-load"), "-q", "-c", "10", "-m", str(msgs),
            "-s", "4096", "-n", "1", "-T", "-A", "alice:alice-pw",
            "-f", "alice@mailroom.test", "-t", "alice@mailroom.test", "-l", f"{label}-{mode}"]
    if mode == "resume":
        args.append("-R")
    out = subprocess.run(args + [f"127.0.0.1:{port}"], capture_output=True, text=True,
                         timeout=1800).stdout
    m = re.search(r"^RESULT .*$", out, re.M)
    return m.group(0) if m else "RESULT failed " + out.strip().replace("\n", " ")


def report(line, cpu):
    acc = re.search(r"accepted=(\d+)", line)
    n = int(acc.group(1)) if acc else 0
    print(f"{line} server_cpu_ms_per_msg={1000 * cpu / max(n, 1):.2f}", flush=True)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_mailroom(base, mode, msgs):
    ports = {"smtp": conftest.free_port(), "smtps": conftest.free_port()}
    d = mkinstance.create(base, os.path.join(BUILD, "bin"), ports,
                          {"smtpd_sasl_failure_delay": "0"}, qmgr=False)
    inst = conftest.Instance(d, ports)
    before = children_cpu()
    inst.start()
    try:
        line = load("mailroom-smtps", ports["smtps"], mode, msgs)
    finally:
        inst.stop()
    report(line, children_cpu() - before)


def postfix_config(d, port, mr_etc):
    """A private Postfix in d: main.cf, master.cf, the certificate and the
    sasldb of the Mailroom instance made in mr_etc (copies its user can
    read)."""
    for sub in ("etc", "etc/sasl", "spool", "data", "log"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    for name in ("cert.pem", "key.pem", "sasldb2"):
        shutil.copy(os.path.join(mr_etc, name), os.path.join(d, "etc", name))
    shutil.chown(os.path.join(d, "etc", "sasldb2"), "postfix")
    shutil.chown(os.path.join(d, "data"), "postfix")
    # Debian's postfix reads $config_directory/sasl/smtpd.conf
    with open(os.path.join(d, "etc", "sasl", "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                f"sasldb_path: {d}/etc/sasldb2\nmech_list: PLAIN LOGIN\n")
    with open(os.path.join(d, "etc", "main.cf"), "w") as f:
        f.write(f"""compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.mailroom.test
mydomain = mailroom.test
mydestination = mailroom.test, localhost
local_recipient_maps =
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
in_flow_delay = 0
maillog_file = {d}/log/postfix.log
maillog_file_prefixes = {d}
smtpd_tls_cert_file = {d}/etc/cert.pem
smtpd_tls_key_file = {d}/etc/key.pem
smtpd_tls_security_level = may
smtpd_tls_session_cache_database = btree:{d}/data/smtpd_scache
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {d}/etc/sasl
smtpd_sasl_local_domain = mx.mailroom.test
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
""")
    with open(os.path.join(d, "etc", "master.cf"), "w") as f:
        f.write(f"""127.0.0.1:{port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
cleanup   unix  n  -  n  -  0  cleanup
rewrite   unix  -  -  n  -  -  trivial-rewrite
anvil     unix  -  -  n  -  1  anvil
tlsmgr    unix  -  -  n  1000? 1 tlsmgr
postlog   unix-dgram n - n - 1 postlogd
""")


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def run_postfix(base, mode, msgs):
    # a Mailroom instance, never started, for its certificate and sasldb
    mr = mkinstance.create(base, os.path.join(BUILD, "bin"), {"smtp": conftest.free_port()}, {},
                           qmgr=False)
    d = os.path.join(base, "postfix")
    port = conftest.free_port()
    postfix_config(d, port, os.path.join(mr, "etc"))
    before = children_cpu()
    # start-fg: master stays our child, so its CPU and its children's are ours
    proc = subprocess.Popen([POSTFIX, "-c", os.path.join(d, "etc"), "start-fg"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_port(port, proc):
            log = open(os.path.join(d, "log", "postfix.log"), errors="replace").read()
            print(f"RESULT failed postfix-smtps-{mode}: did not start: {log[-500:]}", flush=True)
            return
        line = load("postfix-smtps", port, mode, msgs)
    finally:
        # "postfix stop" signals master; start-fg then returns
        subprocess.run([POSTFIX, "-c", os.path.join(d, "etc"), "stop"], capture_output=True)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    report(line, children_cpu() - before)


def main():
    msgs = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    servers = os.environ.get("TLS_BENCH_SERVERS", "mailroom postfix").split()
    conftest.ensure_mail_users()
    if "postfix" in servers and not os.access(POSTFIX, os.X_OK):
        print("tls-bench: postfix is not installed (apt-get install postfix); Postfix rows skipped")
        servers.remove("postfix")
    for server in servers:
        for mode in ("full", "resume"):
            base = tempfile.mkdtemp(prefix="mailroom-bench-tls-", dir="/tmp")
            os.chmod(base, 0o755)
            try:
                (run_mailroom if server == "mailroom" else run_postfix)(base, mode, msgs)
            finally:
                if not os.environ.get("TLS_BENCH_KEEP"):
                    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
