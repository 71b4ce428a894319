#!/usr/bin/python3
"""delivery.py - delivery benchmarks: end to end, and qmgr's memory.

    /usr/bin/python3 bench/delivery.py BUILD [e2e|rss|all]

e2e: a throwaway instance (tools/mkinstance.py, with qmgr and local) takes
N messages over SMTP from C concurrent sessions; the script records when
each 250 came back and when the message appeared in bob's Maildir (the
file's modification time, written by local just before the rename into
new/). It prints messages/s from the first MAIL to the last Maildir file,
and the median and 90th percentile of the delay from 250 to Maildir, once
at full load (the delay then includes the queue that builds up) and once
light (one session, a pause after each message: the delay of one message).

rss: qmgr's resident memory with a large queue whose delivery is blocked:
Q tiny queue files are written straight into incoming/ (the record format
of docs/queue.md, marked ready), every recipient routed to a transport
whose agent never answers, and qmgr started. Its VmRSS is read once it has
filled the active queue (qmgr_message_active_limit) and again with a limit
large enough for the whole queue.

Environment: BENCH_MESSAGES (2000), BENCH_SESSIONS (10), BENCH_QUEUE
(100000), BENCH_DIR (/var/tmp).
"""
import os
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
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import mkinstance  # noqa: E402
import qrecords  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instance(build, extra, services=()):
    base = tempfile.mkdtemp(prefix="mailroom-bench-dlv.", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    os.chmod(base, 0o755)
    ports = {"smtp": free_port()}
    d = mkinstance.create(base, os.path.abspath(os.path.join(build, "bin")), ports, extra,
                          qmgr=True, services=services)
    return d, ports


def start(build, d):
    return subprocess.Popen([os.path.join(build, "bin", "master"), "-c", os.path.join(d, "etc"), "-f"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def e2e(build, n=None, sessions=None, pause=0.0, label="load"):
    n = n or int(os.environ.get("BENCH_MESSAGES", "2000"))
    sessions = sessions or int(os.environ.get("BENCH_SESSIONS", "10"))
    d, ports = instance(build, {})
    proc = start(build, d)
    try:
        assert wait_port(ports["smtp"]), "instance did not start"
        accepted = {}
        lock = threading.Lock()
        counter = iter(range(n))

        def worker():
            with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=60) as s:
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    body = (f"Message-ID: <bench{i}@bench>\r\nSubject: bench {i}\r\n\r\n"
                            + "x" * 60 + "\r\n") * 1
                    s.sendmail("bench@example.org", ["bob@mailroom.test"], body)
                    with lock:
                        accepted[f"bench{i}"] = time.time()
                    if pause:
                        time.sleep(pause)

        t0 = time.time()
        threads = [threading.Thread(target=worker) for _ in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_accept = time.time()
        new = os.path.join(d, "mail", "mailroom.test", "bob", "new")
        deadline = time.time() + 600
        while time.time() < deadline:
            if os.path.isdir(new) and len(os.listdir(new)) >= n:
                break
            time.sleep(0.1)
        delays, last = [], 0.0
        for name in os.listdir(new):
            path = os.path.join(new, name)
            mtime = os.stat(path).st_mtime
            with open(path, "rb") as f:
                head = f.read(4096)
            key = head.split(b"Message-ID: <", 1)[1].split(b"@", 1)[0].decode()
            delays.append(mtime - accepted[key])
            last = max(last, mtime)
        delays.sort()
        print(f"e2e {label}: {len(delays)}/{n} messages in the Maildir, {sessions} SMTP "
              f"session(s){f', {pause * 1000:.0f} ms between messages' if pause else ''}")
        print(f"e2e {label}: SMTP intake {n / (t_accept - t0):.0f} msg/s; end to end "
              f"{len(delays) / (last - t0):.0f} msg/s (first MAIL to last Maildir file)")
        print(f"e2e {label}: delay 250 -> Maildir: median {statistics.median(delays) * 1000:.0f} ms, "
              f"90th percentile {delays[int(len(delays) * 0.9)] * 1000:.0f} ms, "
              f"max {delays[-1] * 1000:.0f} ms")
    finally:
        stop(proc)
        shutil.rmtree(d, ignore_errors=True)


def fnv_digit(qid):
    h = 2166136261
    for c in qid.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return "0123456789ABCDEF"[h & 0xf]


def b36(n, width):
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    for _ in range(width):
        out = digits[n % 36] + out
        n //= 36
    return out


def fill_queue(d, count):
    """count tiny ready queue files in incoming/, IDs made like qid_make."""
    now = int(time.time())
    spool = os.path.join(d, "spool")
    for i in range(count):
        qid = b36(now - 3600, 7) + b36(i // 36 ** 5 % 36 ** 4, 4) + b36(i, 5)
        path = os.path.join(spool, "incoming", fnv_digit(qid), qid)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = qrecords.message(f"s{i}@example.org", [f"slow{i}@blocked.example"],
                                ["Subject: q", "", "x"])
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o700)


def qmgr_rss(d, want_active, timeout=900):
    """VmRSS (kB) of qmgr once active/ holds want_active files and is steady."""
    deadline = time.time() + timeout
    pid = None
    while time.time() < deadline:
        out = subprocess.run(["pgrep", "-f", f"qmgr -c {d}/etc"], capture_output=True, text=True)
        pid = out.stdout.split()[0] if out.stdout.split() else None
        active = sum(len(f) for _, _, f in os.walk(os.path.join(d, "spool", "active")))
        if pid and active >= want_active:
            time.sleep(2)
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]), active
        time.sleep(0.5)
    return None, None


def rss(build):
    count = int(os.environ.get("BENCH_QUEUE", "100000"))
    # "blocked": testagent as one process, and every recipient is a slow
    # one (2 s each), so nearly everything waits in qmgr's memory
    for limit in (20000, count):
        d, ports = instance(build, {"transport_maps": "inline:{*=blocked:}",
                                    "qmgr_message_active_limit": str(limit),
                                    "default_process_limit": "10"},
                            services=["blocked        unix  y       y      n      -      1       testagent"])
        fill_queue(d, count)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "mailroom:mailroom", os.path.join(d, "spool")], check=False)
        t0 = time.time()
        proc = start(build, d)
        try:
            kb, active = qmgr_rss(d, min(limit, count))
            took = time.time() - t0
            print(f"rss: {count} queued, active limit {limit}: qmgr VmRSS {kb} kB with "
                  f"{active} messages in active/ (loaded in {took:.0f} s)")
        finally:
            stop(proc)
            shutil.rmtree(d, ignore_errors=True)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    what = sys.argv[2] if len(sys.argv) > 2 else "all"
    if what in ("e2e", "all"):
        e2e(build)
        e2e(build, n=200, sessions=1, pause=0.02, label="light")
    if what in ("rss", "all"):
        rss(build)


if __name__ == "__main__":
    main()
