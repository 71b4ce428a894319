#!/usr/bin/python3
"""tls_bench.py - submission over TLS: full handshakes against resumption.

For each mode, a fresh instance (smtpd, cleanup, qmgr, local) is started,
and smtp-load sends MSGS messages of 4 KiB from 10 clients to the smtps port
(TLS from the first byte), each on its own connection with AUTH PLAIN as
alice, to alice's own mailbox. Mode "full" makes a full TLS handshake per
connection; mode "resume" lets each client thread offer its last session
ticket again (a new smtpd process takes it: the ticket keys are shared).
CPU: user+system seconds of master and every process it reaped (smtpd,
cleanup, qmgr, local, ...) until the instance stopped, per message; the
client's CPU is not counted.

    bench/tls_bench.py BUILD [MSGS]

Prints one RESULT line per mode.
"""
import os
import re
import resource
import shutil
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


def run(mode, msgs):
    base = tempfile.mkdtemp(prefix="mailroom-bench-tls-", dir="/tmp")
    os.chmod(base, 0o755)
    ports = {"smtp": conftest.free_port(), "smtps": conftest.free_port()}
    d = mkinstance.create(base, os.path.join(BUILD, "bin"), ports,
                          {"smtpd_sasl_failure_delay": "0"})
    inst = conftest.Instance(d, ports)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    inst.start()
    try:
        args = [os.path.join(BUILD, "bin", "smtp-load"), "-q", "-c", "10", "-m", str(msgs),
                "-s", "4096", "-n", "1", "-T", "-A", "alice:alice-pw",
                "-f", "alice@mailroom.test", "-t", "alice@mailroom.test",
                "-l", f"mailroom-smtps-{mode}"]
        if mode == "resume":
            args.append("-R")
        out = subprocess.run(args + [f"127.0.0.1:{ports['smtps']}"], capture_output=True,
                             text=True, timeout=1800).stdout
    finally:
        inst.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = re.search(r"^RESULT .*$", out, re.M)
    line = m.group(0) if m else "RESULT failed " + out.strip().replace("\n", " ")
    acc = re.search(r"accepted=(\d+)", line)
    n = int(acc.group(1)) if acc else 0
    print(f"{line} server_cpu_ms_per_msg={1000 * cpu / max(n, 1):.2f}", flush=True)
    shutil.rmtree(base, ignore_errors=True)


def main():
    msgs = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    conftest.ensure_mail_users()
    for mode in ("full", "resume"):
        run(mode, msgs)


if __name__ == "__main__":
    main()
