#!/usr/bin/python3
"""delivery.py - end-to-end delivery: SMTP in, Maildir out, beside Postfix.

    /usr/bin/python3 bench/delivery.py BUILD

For each server (a throwaway Mailroom instance made by tools/mkinstance.py,
and, when Debian's postfix is installed, a throwaway Postfix whose virtual(8)
agent delivers into a Maildir under a temp folder), for each number of SMTP
sessions, N messages of about 4 KiB go in over SMTP from that many
concurrent sessions, each to bob@mailroom.test. The script records when
each 250 came back and when the message appeared in bob's Maildir (the
file's modification time, written just before the rename into new/), and
prints:

  msgs/s    messages from the first MAIL to the last Maildir file
  p50, p95  delay from the 250 to the Maildir file
  CPU/msg   CPU time (user + system) of the server's whole process tree
            (master and every daemon and agent, exited ones included)
            during the run, per message: unlike the rate, it is not
            distorted much by what else runs on the machine
  load      the 1-minute load average when the run started

The servers take turns for each session count, BENCH_RUNS times, so that
both see the same machine. Environment: BENCH_MESSAGES (2000),
BENCH_SESSIONS ("1 10"), BENCH_RUNS (2), BENCH_SERVERS ("mailroom
postfix"), BENCH_DIR (/var/tmp), BENCH_BASELINE (the build folder of
another tree, e.g. an older one: adds the server "baseline", a Mailroom
instance running that build, to compare before and after a change),
BENCH_CONF ("name=value ...": mailroom.conf settings for both Mailroom
instances), BENCH_CLIENT ("smtp-load", the default: the project's C load
generator, BUILD/bin/smtp-load, one connection per session for all its
messages, 4 KiB each, noting when each 250 came back with -o; "python":
smtplib in threads, the client of the figures before 2026-11-28, which
spends more CPU per message than the servers it measures and so shares
the two cores with them), BENCH_PERF (1: `perf record -a -g` over each
measured run, and two more columns: the share of the server's own CPU
samples, and of the whole machine's busy samples, whose call chain
passes ext4's recently_deleted, the walk past freed inodes described in
docs/benchmarks.md).

Each row starts from the same file-system state (docs/benchmarks.md, "Each
row on its own block group"): on ext4 every row's instance gets its own
block group (its folder is made under a folder marked as a top of
hierarchies, chattr +T, so ext4 places it like a top-level directory,
and a group an earlier row, or a bench that ended in the last
400 s, used is refused: bench/blockgroups.py), and the file system is
synced between rows. So a row pays for the inodes its own server frees (Postfix removes a
queue file per message), never for those an earlier row freed.
"""
import os
import pwd
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tools"))
import mkinstance  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blockgroups  # noqa: E402

POSTFIX = "/usr/sbin/postfix"
SMTP_LOAD = "build/bin/smtp-load"  # main() points it at the build given
ROWS = None  # main(): blockgroups.Rows, where every row's instance lives
BODY = "x" * 76 + "\r\n"
TICKS = os.sysconf("SC_CLK_TCK")


def bench_conf():
    """BENCH_CONF "name=value name=value": mailroom.conf settings for the
    Mailroom instances (e.g. in_flow_limit=25)"""
    return dict(kv.split("=", 1) for kv in os.environ.get("BENCH_CONF", "").split())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def tree(root):
    """{pid: CPU seconds} of root and all its descendants: each live
    process's own and reaped children's time (a process that exited is in
    its parent's children's time)."""
    parent, cpu = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(name)] = int(fields[1])
        cpu[int(name)] = sum(int(x) for x in fields[11:15]) / TICKS
    mine = {}
    for pid in cpu:
        p = pid
        while p and p != root:
            p = parent.get(p)
        if p == root:
            mine[pid] = cpu[pid]
    return mine


def tree_cpu(root):
    """CPU seconds of root and all its descendants, exited ones included."""
    return sum(tree(root).values())


class Mailroom:
    name = "mailroom"

    def __init__(self, build, base):
        self.build = os.path.abspath(build)
        self.dir = ROWS.own_dir("mailroom-bench-dlv.")
        self.port = free_port()
        mkinstance.create(self.dir, os.path.join(self.build, "bin"), {"smtp": self.port},
                          bench_conf(), qmgr=True)
        self.maildir = os.path.join(self.dir, "mail", "mailroom.test", "bob", "new")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([os.path.join(self.build, "bin", "master"), "-c",
                                      os.path.join(self.dir, "etc"), "-f"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        return wait_port(self.port)

    def root_pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


class Baseline(Mailroom):
    name = "baseline"

    def __init__(self, build, base):
        super().__init__(os.environ["BENCH_BASELINE"], base)


class Postfix:
    """Debian's Postfix, private: queue, data, log and mail under a temp
    folder, 127.0.0.1 on a free port, master.cf as Debian ships it with
    the smtp line moved to that port and no chroot; mailroom.test is a
    virtual mailbox domain and bob's Maildir belongs to the same user as
    Mailroom's."""
    name = "postfix"

    def __init__(self, build, base):
        self.dir = ROWS.own_dir("postfix-bench-dlv.")
        self.port = free_port()
        d = self.dir
        for sub in ("etc", "spool", "data", "log", "mail"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        pw = pwd.getpwnam("mailroom")
        os.chown(os.path.join(d, "mail"), pw.pw_uid, pw.pw_gid)
        shutil.chown(os.path.join(d, "data"), "postfix")
        with open(os.path.join(d, "etc", "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.postfix-bench.test
mydomain = postfix-bench.test
mydestination = localhost
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
virtual_mailbox_domains = mailroom.test
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = inline:{{bob@mailroom.test=mailroom.test/bob/}}
virtual_uid_maps = static:{pw.pw_uid}
virtual_gid_maps = static:{pw.pw_gid}
virtual_minimum_uid = 1
maillog_file = {d}/log/postfix.log
maillog_file_prefixes = {d}
""")
        out = []
        for line in open("/etc/postfix/master.cf"):
            f = line.split()
            if line[:1].isalnum() and len(f) >= 8:
                if f[0] == "smtp" and f[1] == "inet":
                    f[0] = f"127.0.0.1:{self.port}"
                if f[4] == "y":
                    f[4] = "n"
                line = " ".join(f) + "\n"
            out.append(line)
        with open(os.path.join(d, "etc", "master.cf"), "w") as f:
            f.writelines(out)
        self.maildir = os.path.join(d, "mail", "mailroom.test", "bob", "new")

    def start(self):
        r = subprocess.run([POSTFIX, "-c", os.path.join(self.dir, "etc"), "start"],
                           capture_output=True)
        return r.returncode == 0 and wait_port(self.port)

    def root_pid(self):
        with open(os.path.join(self.dir, "spool", "pid", "master.pid")) as f:
            return int(f.read().strip())

    def stop(self):
        subprocess.run([POSTFIX, "-c", os.path.join(self.dir, "etc"), "stop"], capture_output=True)
        time.sleep(1)


def send_all(port, n, sessions, tag):
    """n messages over `sessions` concurrent SMTP sessions; the time each
    250 came back, by Message-ID key (the part before the @)."""
    if os.environ.get("BENCH_CLIENT", "smtp-load") == "python":
        return send_all_python(port, n, sessions, tag)
    return send_all_load(port, n, sessions)


def send_all_load(port, n, sessions):
    """send_all with smtp-load: its -o file names each accepted message
    by its Message-ID's local part, with the wall-clock time of its 250."""
    with tempfile.NamedTemporaryFile(mode="r", prefix="delivery-accepts.") as log:
        r = subprocess.run([SMTP_LOAD, "-q", "-c", str(sessions), "-m", str(n), "-n", "0",
                            "-s", "4096", "-f", "bench@example.org", "-t", "bob@mailroom.test",
                            "-o", log.name, f"127.0.0.1:{port}"],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise RuntimeError(f"smtp-load failed: {r.stdout.strip()} {r.stderr.strip()}")
        accepted = {}
        for line in log.read().splitlines():
            key, when = line.split()
            accepted[key] = float(when)
    return accepted


def send_all_python(port, n, sessions, tag):
    """send_all with smtplib, one thread per session."""
    accepted, lock, counter = {}, threading.Lock(), iter(range(n))
    failed = []

    def worker():
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    key = f"{tag}.{i}"
                    body = f"Message-ID: <{key}@bench>\r\nSubject: bench {i}\r\n\r\n" + BODY * 52
                    s.sendmail("bench@example.org", ["bob@mailroom.test"], body)
                    with lock:
                        accepted[key] = time.time()
        except Exception as e:  # noqa: BLE001 - reported below
            failed.append(e)

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise RuntimeError(f"SMTP failed: {failed[0]}")
    return accepted


def maildir_times(maildir, accepted, want, deadline):
    """Wait until want of our messages are in maildir; their file times."""
    while True:
        names = os.listdir(maildir) if os.path.isdir(maildir) else []
        if len(names) >= want or time.time() > deadline:
            break
        time.sleep(0.05)
    times = {}
    for name in names:
        path = os.path.join(maildir, name)
        with open(path, "rb") as f:
            head = f.read(4096)
        if b"Message-ID: <" not in head:
            continue
        key = head.split(b"Message-ID: <", 1)[1].split(b"@", 1)[0].decode()
        if key in accepted:
            times[key] = os.stat(path).st_mtime
    return times


def set_aside(maildir):
    """Move the messages of an earlier run out of the Maildir's new/ into
    a sibling folder. The bench itself removes nothing while it runs: on
    ext4 without a journal (/var/tmp here) every file created after a
    mass removal walks past the freed inodes, which would charge the
    bench's own clean-up to the run that follows."""
    if not os.path.isdir(maildir):
        return
    old = os.path.join(os.path.dirname(maildir), "bench-old")
    os.makedirs(old, exist_ok=True)
    for name in os.listdir(maildir):
        os.rename(os.path.join(maildir, name), os.path.join(old, name))


class PerfWatch:
    """BENCH_PERF=1: perf record -a -g over one measured run, the server's
    process tree noted every 0.2 s meanwhile (its processes live for the
    whole run or most of it); walk() then tells how much of the server's
    CPU samples, and of the machine's busy ones, went through ext4's
    recently_deleted."""

    def __init__(self, root):
        self.root, self.pids, self.done = root, set(), threading.Event()
        self.data = tempfile.NamedTemporaryFile(prefix="delivery-perf.", suffix=".data")
        self.proc = subprocess.Popen(["perf", "record", "-a", "-g", "-q", "-o", self.data.name],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.thread = threading.Thread(target=self.note_pids)
        self.thread.start()
        time.sleep(0.3)

    def note_pids(self):
        while not self.done.wait(0.2):
            self.pids.update(tree(self.root))

    def report(self, *args):
        """perf report's rows "figure|pid:comm[|symbol]" as (figure, pid,
        symbol)."""
        r = subprocess.run(["perf", "report", "-i", self.data.name, "--stdio", "-g", "none",
                            "-t", "|", *args], capture_output=True, text=True, check=False)
        rows = []
        for line in r.stdout.splitlines():
            f = [x.strip() for x in line.split("|")] + [""]
            if len(f) >= 3 and not line.startswith("#") and f[0]:
                rows.append((float(f[0].rstrip("%")), int(f[1].split(":")[0]), f[2]))
        return rows

    def walk(self):
        """(server's share, machine's busy share) of samples under
        recently_deleted, in percent."""
        self.pids.update(tree(self.root))
        self.done.set()
        self.thread.join()
        self.proc.send_signal(2)
        self.proc.wait()
        total = self.report("--no-children", "--sort", "pid", "-F", "sample,pid")
        walks = [(pct, pid) for pct, pid, sym in
                 self.report("--children", "--sort", "pid,sym", "-F",
                             "overhead_children,pid,sym", "--percent-limit", "0")
                 if sym.endswith(" recently_deleted")]
        all_samples = sum(c for c, _, _ in total)
        busy = sum(c for c, pid, _ in total if pid != 0)
        mine = sum(c for c, pid, _ in total if pid in self.pids)
        walk_all = sum(pct for pct, _ in walks) * all_samples / 100
        walk_mine = sum(pct for pct, pid in walks if pid in self.pids) * all_samples / 100
        self.data.close()
        return walk_mine * 100 / max(mine, 1), walk_all * 100 / max(busy, 1)


def run(server, n, sessions, tag, perf=False):
    """One measured run on a started server; returns its figures."""
    set_aside(server.maildir)
    load = os.getloadavg()[0]
    watch = PerfWatch(server.root_pid()) if perf else None
    cpu0 = tree_cpu(server.root_pid())
    t0 = time.time()
    accepted = send_all(server.port, n, sessions, tag)
    times = maildir_times(server.maildir, accepted, n, time.time() + 600)
    cpu1 = tree_cpu(server.root_pid())
    delays = sorted(times[k] - accepted[k] for k in times)
    last = max(times.values()) if times else time.time()
    return {
        "got": len(times), "rate": len(times) / (last - t0),
        "p50": statistics.median(delays) * 1000 if delays else 0,
        "p95": delays[int(len(delays) * 0.95)] * 1000 if delays else 0,
        "cpu": (cpu1 - cpu0) * 1000 / max(len(times), 1), "load": load,
        "walk": watch.walk() if watch else None,
    }


def main():
    global ROWS
    base = os.environ.get("BENCH_DIR", "/var/tmp")
    apart = os.environ.get("BENCH_ROWS", "apart") != "shared"
    ROWS = blockgroups.Rows(base, "bench-dlv.", apart)
    if apart and not ROWS.spread:
        print(f"delivery: {base} cannot spread folders over block groups (not ext4?)")
    try:
        measure(apart)
    finally:
        ROWS.remove()


def measure(apart):
    """Every row: a fresh instance of each server in turn, a warm-up, the
    measured run; with apart, the file system synced after each row."""
    global SMTP_LOAD
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    SMTP_LOAD = os.path.join(build, "bin", "smtp-load")
    n = int(os.environ.get("BENCH_MESSAGES", "2000"))
    sessions_list = [int(x) for x in os.environ.get("BENCH_SESSIONS", "1 10").split()]
    runs = int(os.environ.get("BENCH_RUNS", "2"))
    names = os.environ.get("BENCH_SERVERS", "mailroom postfix").split()
    base = os.environ.get("BENCH_DIR", "/var/tmp")
    if "postfix" in names and not os.access(POSTFIX, os.X_OK):
        print("delivery: postfix is not installed (apt-get install postfix); Postfix rows skipped")
        names.remove("postfix")
    if os.geteuid() != 0 and "postfix" in names:
        print("delivery: Postfix needs root; Postfix rows skipped")
        names.remove("postfix")
    kinds = {"mailroom": Mailroom, "postfix": Postfix, "baseline": Baseline}
    if os.environ.get("BENCH_BASELINE") and "baseline" not in names:
        names.insert(0, "baseline")
    client = os.environ.get("BENCH_CLIENT", "smtp-load")
    perf = os.environ.get("BENCH_PERF", "") not in ("", "0")
    print(f"delivery: {n} messages of ~4 KiB per run, one recipient, into one Maildir; "
          f"client {client}; rows {'apart' if apart else 'shared'}")
    print(f"{'server':9} {'sessions':>8} {'run':>3} {'msgs/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'CPU ms/msg':>10} {'load':>5}" + (" walk% server machine" if perf else ""))
    if apart:
        os.sync()
    for sessions in sessions_list:
        for r in range(runs):
            for name in names:
                server = kinds[name](build, base)
                try:
                    if not server.start():
                        print(f"delivery: {name} did not start")
                        continue
                    time.sleep(1)
                    # a warm-up, so that processes and Maildir exist
                    run(server, min(50, n), sessions, f"warm{r}")
                    f = run(server, n, sessions, f"run{r}", perf)
                    walk = f"{f['walk'][0]:12.1f} {f['walk'][1]:7.1f}" if f["walk"] else ""
                    print(f"{name:9} {sessions:8} {r + 1:3} {f['rate']:7.0f} {f['p50']:8.0f} "
                          f"{f['p95']:8.0f} {f['cpu']:10.2f} {f['load']:5.1f}{walk}"
                          + ("" if f["got"] == n else f"  (only {f['got']}/{n} arrived)"),
                          flush=True)
                finally:
                    server.stop()
                    if apart:
                        os.sync()


if __name__ == "__main__":
    main()
