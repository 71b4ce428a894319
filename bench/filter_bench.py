#!/usr/bin/python3
"""filter_bench.py - messages per second through the content filter.

For each message size (4 KiB and 1 MiB by default) it measures:

  clamd          clamd's own rate: CLIENTS threads streaming the message to
                 clamd with zINSTREAM, nothing else (the ceiling)
  filterd-clamd  filterd with clamd alone (filterd_scanners = clamd)
  filterd-builtin  filterd with clamd and the spam scanner without spamd:
                 the built-in rules and the Bayes tokenizer and classifier
                 (filterd_scanners = clamd, spam)
  filterd-spamd  the same with filterd_spamd_address set: spamd scores
                 (CLIENTS children)
  amavis         amavisd-new with the same clamd, spam checks off: the
                 usual setup this filter replaces

The filters get the same load from smtp-load (CLIENTS sessions, one message
per connection) on their SMTP port and hand every message back to a
Mailroom smtpd that only queues it (no qmgr). filterd's memory is the peak
sum of Pss over its processes, sampled during the runs. Every program runs
from a temporary directory on free loopback ports: one clamd (with a test
signature, StreamMaxLength 30M), one spamd (--local, offline), one Mailroom
instance (filterd's SMTP port and the re-injection smtpd), one amavisd.

    bench/filter_bench.py BUILD [CLIENTS] [SIZES] [MSGS_4K] [MSGS_1M]

Prints one BENCH line per run, a table, and the ratios against the targets
(filterd-builtin >= 80% of clamd's own rate, >= 10x amavis, < 20 MB PSS).
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
os.environ["MAILROOM_BUILD"] = BUILD
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tools"))
import conftest  # noqa: E402
import mkinstance  # noqa: E402
from test_spam import Spamd  # noqa: E402

CLIENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
SIZES = [int(s) for s in (sys.argv[3] if len(sys.argv) > 3 else "4096,1048576").split(",")]
MSGS = {4096: int(sys.argv[4]) if len(sys.argv) > 4 else 400,
        1048576: int(sys.argv[5]) if len(sys.argv) > 5 else 40}
IS_ROOT = os.geteuid() == 0
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def free_port():
    return conftest.free_port()


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def wait_port(port, timeout=120):
    return conftest.wait_port(port, timeout)


class Clamd:
    """clamd in the foreground with a one-signature database."""

    def __init__(self, d):
        self.dir = d
        self.sock = os.path.join(d, "clamd.sock")

    def start(self):
        db = os.path.join(self.dir, "db")
        os.mkdir(db)
        with open(os.path.join(db, "bench.ndb"), "w") as f:
            f.write("Mailroom.Bench.EICAR:0:*:%s\n" % EICAR.hex())
        conf = os.path.join(self.dir, "clamd.conf")
        with open(conf, "w") as f:
            f.write(f"LocalSocket {self.sock}\nDatabaseDirectory {db}\nForeground yes\n"
                    f"PidFile {self.dir}/clamd.pid\nTemporaryDirectory {self.dir}\n"
                    f"LogFile {self.dir}/clamd.log\nStreamMaxLength 30M\nMaxThreads 8\n"
                    "LocalSocketMode 666\n")
        self.proc = subprocess.Popen(["/usr/sbin/clamd", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not os.path.exists(self.sock) or not self.scan(b"ping") == b"stream: OK":
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("clamd did not start")
            time.sleep(0.1)

    def scan(self, data):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(60)
                s.connect(self.sock)
                s.sendall(b"zINSTREAM\0")
                for i in range(0, len(data), 65536):
                    chunk = data[i:i + 65536]
                    s.sendall(len(chunk).to_bytes(4, "big") + chunk)
                s.sendall(b"\0\0\0\0")
                reply = b""
                while not reply.endswith(b"\0"):
                    got = s.recv(256)
                    if not got:
                        break
                    reply += got
                return reply.rstrip(b"\0")
        except OSError:
            return b""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


def message(size, n=0):
    """A plain message of about size bytes (ordinary text lines)."""
    words = b"the quarterly report and the meeting notes are ready for review "
    line = (words * 2)[:72] + b"\r\n"
    head = (b"From: bench@example.org\r\nTo: alice@mailroom.test\r\nSubject: bench %d\r\n"
            b"Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <%d@bench>\r\n\r\n" % (n, n))
    return head + line * max(1, (size - len(head)) // len(line))


def clamd_rate(clamd, size, msgs):
    """clamd alone: CLIENTS threads, msgs scans in all."""
    data = message(size)
    left = [msgs]
    lock = threading.Lock()
    bad = []

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            if clamd.scan(data) != b"stream: OK":
                bad.append(1)

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.time() - t0
    return {"accepted": msgs - len(bad), "secs": secs, "rate": (msgs - len(bad)) / secs}


def smtp_load(port, size, msgs, label):
    r = subprocess.run([os.path.join(BUILD, "bin", "smtp-load"), "-c", str(CLIENTS), "-m",
                        str(msgs), "-s", str(size), "-t", "alice@mailroom.test", "-w", "300",
                        "-q", "-l", label, f"127.0.0.1:{port}"],
                       capture_output=True, text=True, timeout=3600)
    m = re.search(r"^RESULT .*$", r.stdout, re.M)
    if not m:
        raise RuntimeError(f"smtp-load against {label}: {r.stdout}{r.stderr}")
    return dict(kv.split("=", 1) for kv in m.group(0).split()[1:])


def pss_of(comm):
    """Sum of Pss (kB) over the processes called comm."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if open(f"/proc/{pid}/comm").read().strip() != comm:
                continue
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


class PssSampler(threading.Thread):
    def __init__(self, comm):
        super().__init__(daemon=True)
        self.comm, self.peak, self.stop_flag = comm, 0, threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            self.peak = max(self.peak, pss_of(self.comm))
            time.sleep(0.2)

    def stop(self):
        self.stop_flag.set()
        self.join()
        return self.peak


def mailroom_instance(base, clamd, spamd_addr=""):
    """An instance whose filterd (on the filter port) re-injects into its
    own smtpd on the reinject port; no qmgr: mail stays in incoming/."""
    ports = {"smtp": free_port(), "reinject": free_port(), "filter": free_port()}
    d = mkinstance.create(base, os.path.join(BUILD, "bin"), ports, {
        "filterd_clamd_socket": clamd.sock, "filterd_spamd_address": spamd_addr,
        "filterd_worker_limit": "20", "smtpd_client_connection_rate_limit": "0",
        "smtpd_client_connection_count_limit": "0"}, qmgr=False)
    if IS_ROOT:
        os.chmod(base, 0o755)
    return conftest.Instance(d, ports)


def set_scanners(inst, scanners, spamd_addr=""):
    inst.set_conf(filterd_scanners=scanners, filterd_spamd_address=spamd_addr)
    inst.restart()
    wait_port(inst.ports["filter"])


AMAVIS_CONF = """use strict;
$MYHOME = '{d}/home';
$TEMPBASE = '{d}/tmp';
$db_home = '{d}/db';
$helpers_home = '{d}/home';
$pid_file = '{d}/home/amavisd.pid';
$lock_file = '{d}/home/amavisd.lock';
$daemon_user = '{user}';
$daemon_group = '{group}';
$myhostname = 'bench.mailroom.test';
$mydomain = 'mailroom.test';
@local_domains_maps = (['.']);
$inet_socket_bind = '127.0.0.1';
$inet_socket_port = {port};
@inet_acl = qw(127.0.0.1);
$forward_method = 'smtp:[127.0.0.1]:{reinject}';
$notify_method = $forward_method;
$max_servers = {servers};
$max_requests = 1000;
$child_timeout = 600;
$do_syslog = 0;
$LOGFILE = '{d}/home/amavis.log';
$log_level = 0;
$enable_db = 0;
$enable_zmq = 0;
$enable_dkim_verification = 0;
$enable_dkim_signing = 0;
@bypass_spam_checks_maps = (1);
@bypass_banned_checks_maps = (1);
@bypass_header_checks_maps = (1);
$final_virus_destiny = D_DISCARD;
$final_spam_destiny = D_PASS;
$virus_admin = undef;
$warnvirusrecip = 0;
@av_scanners = (
  ['ClamAV-clamd', \\&ask_daemon, ["CONTSCAN {{}}\\n", '{clamd}'],
   qr/\\bOK$/m, qr/\\bFOUND$/m, qr/^.*?: (?!Infected Archive)(.*) FOUND$/m ],
);
@av_scanners_backup = ();
1;
"""


class Amavis:
    def __init__(self, d, clamd, reinject):
        self.dir, self.port = d, free_port()
        for sub in ("tmp", "db", "home", "etc"):
            os.makedirs(os.path.join(d, sub))
        user = "amavis" if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name
        group = "amavis" if IS_ROOT else user
        self.conf = os.path.join(d, "etc", "amavisd.conf")
        with open(self.conf, "w") as f:
            f.write(AMAVIS_CONF.format(d=d, user=user, group=group, port=self.port,
                                       reinject=reinject, servers=CLIENTS, clamd=clamd.sock))
        if IS_ROOT:
            pw = pwd.getpwnam("amavis")
            for sub in ("tmp", "db", "home"):  # the configuration stays root's
                os.chown(os.path.join(d, sub), pw.pw_uid, pw.pw_gid)

    def start(self):
        self.proc = subprocess.Popen(["/usr/sbin/amavisd", "-c", self.conf, "foreground"],
                                     stdout=open(os.path.join(self.dir, "stdout"), "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while not port_open(self.port) and self.proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        if not port_open(self.port):
            raise RuntimeError("amavisd did not start: "
                               + open(os.path.join(self.dir, "stdout")).read()[-2000:])

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def bench_line(name, size, res, extra=""):
    print(f"BENCH server={name} sessions={CLIENTS} size={size} accepted={res['accepted']} "
          f"secs={float(res['secs']):.3f} rate={float(res['rate']):.1f}{extra}", flush=True)


def main():
    base = tempfile.mkdtemp(prefix="mailroom-filter-bench-", dir="/var/tmp")
    os.chmod(base, 0o755)
    conftest.ensure_mail_users()
    clamd = Clamd(os.path.join(base, "clamd"))
    os.mkdir(clamd.dir)
    spamd = Spamd(os.path.join(base, "spamd"), children=CLIENTS)
    os.mkdir(spamd.dir)
    inst = amavis = None
    results = {}
    try:
        clamd.start()
        spamd.start()
        os.mkdir(os.path.join(base, "mr"))
        inst = mailroom_instance(os.path.join(base, "mr"), clamd)
        inst.start()
        amavis = Amavis(os.path.join(base, "amavis"), clamd, inst.ports["reinject"])
        amavis.start()
        sampler = PssSampler("filterd")
        for size in SIZES:
            msgs = MSGS.get(size, 100)
            res = clamd_rate(clamd, size, msgs)
            results[("clamd", size)] = res
            bench_line("clamd", size, res)
            for name, scanners, spamd_addr in (("filterd-clamd", "clamd", ""),
                                               ("filterd-builtin", "clamd, spam", ""),
                                               ("filterd-spamd", "clamd, spam", spamd.sock)):
                set_scanners(inst, scanners, spamd_addr)
                if name == "filterd-builtin" and not sampler.is_alive():
                    sampler.start()
                res = smtp_load(inst.ports["filter"], size, msgs, name)
                results[(name, size)] = res
                bench_line(name, size, res)
            res = smtp_load(amavis.port, size, max(10, msgs // 4), "amavis")
            results[("amavis", size)] = res
            bench_line("amavis", size, res)
        pss = sampler.stop() if sampler.is_alive() else 0
        report(results, pss)
    finally:
        for x in (amavis, inst):
            if x:
                x.stop()
        spamd.stop()
        clamd.stop()
        shutil.rmtree(base, ignore_errors=True)


def report(results, pss):
    print("\n| size | clamd alone | filterd clamd | filterd clamd+builtin | filterd clamd+spamd"
          " | amavis | builtin/clamd | builtin/amavis |")
    print("|---|---|---|---|---|---|---|---|")
    for size in SIZES:
        r = {k[0]: float(v["rate"]) for k, v in results.items() if k[1] == size}
        print(f"| {size // 1024} KiB | {r['clamd']:.1f} | {r['filterd-clamd']:.1f} | "
              f"{r['filterd-builtin']:.1f} | {r['filterd-spamd']:.1f} | {r['amavis']:.1f} | "
              f"{100 * r['filterd-builtin'] / r['clamd']:.0f}% | "
              f"{r['filterd-builtin'] / r['amavis']:.1f}x |")
    print(f"\nfilterd peak PSS (sum over its processes): {pss / 1024:.1f} MB")
    print("targets: filterd clamd+builtin >= 80% of clamd alone, >= 10x amavis, PSS < 20 MB")


if __name__ == "__main__":
    main()
