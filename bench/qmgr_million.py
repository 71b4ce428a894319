#!/usr/bin/python3
"""qmgr_million.py - qmgr with a very large queue: memory and pace.

    /usr/bin/python3 bench/qmgr_million.py BUILD

A throwaway instance (tools/mkinstance.py) gets COUNT small queue files
written straight into incoming/ (the record format of docs/queue.md, marked
ready, named and hashed like cleanup's), every recipient routed to a
discarding agent (testagent's "discard..." recipients: the agent marks the
recipient done in the queue file and answers; nothing else is written).
Then master starts and qmgr works through the queue. The script prints
qmgr's peak resident memory (VmHWM) and how long it took until the first
FIRST messages were removed (every recipient done, file gone), then stops
the instance (or, with BENCH_ALL=1, waits for the whole queue) and removes
it.

Environment: BENCH_MILLION (1000000 files), BENCH_FIRST (100000),
BENCH_DIR (/var/tmp), BENCH_ACTIVE_LIMIT (qmgr_message_active_limit; the
default when unset), BENCH_ALL (0).
"""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tools"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import mkinstance  # noqa: E402
import qrecords  # noqa: E402

QID_DIGITS = "0123456789BCDFGHJKLMNPQRSTVWXYZ"
AGENT = "discard        unix  y       y      n      -      20      testagent"


def qid(usec, unique):
    """A queue ID as qid_make builds it: 11 base-31 digits of the time in
    microseconds, 5 of a unique number."""
    out = []
    for value, width in ((usec, 11), (unique % 31 ** 5, 5)):
        digits = []
        for _ in range(width):
            digits.append(QID_DIGITS[value % 31])
            value //= 31
        out += reversed(digits)
    return "".join(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_space(base, count):
    """Each file takes an inode and a 4 KiB block: refuse to start short."""
    st = os.statvfs(base)
    need_bytes, need_inodes = count * 4096 * 1.2, count * 1.2
    free_bytes, free_inodes = st.f_bavail * st.f_frsize, st.f_favail
    print(f"million: {count} files need ~{need_bytes / 2**30:.1f} GiB and {need_inodes:.0f} "
          f"inodes; {base} has {free_bytes / 2**30:.1f} GiB and {free_inodes} free")
    if free_bytes < need_bytes or free_inodes < need_inodes:
        sys.exit("million: not enough space")


def fill(spool, count):
    """count ready queue files in incoming/, written by the mail owner (a
    child that drops to it when we are root), as fast as Python goes."""
    pid = os.fork()
    if pid:
        _, status = os.waitpid(pid, 0)
        if status:
            sys.exit("million: filling the queue failed")
        return
    try:
        if os.geteuid() == 0:
            pw = pwd.getpwnam("mailroom")
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        incoming = os.path.join(spool, "incoming")
        for h in "0123456789ABCDEF":
            os.makedirs(os.path.join(incoming, h), mode=0o700, exist_ok=True)
        base = (int(time.time()) - 3600) * 1000000
        for i in range(count):
            name = qid(base + i, i)
            data = qrecords.message(f"s{i}@example.org", [f"discard{i}@x.example"], ["x"])
            fd = os.open(qrecords.hashed_path(spool, "incoming", name),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
            os.write(fd, data)
            os.close(fd)
        os._exit(0)
    except BaseException as e:  # noqa: BLE001 - the child must not return
        print(f"million: {e}", file=sys.stderr)
        os._exit(1)


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def qmgr_pid(d):
    out = subprocess.run(["pgrep", "-f", f"qmgr -c {d}/etc"], capture_output=True, text=True)
    return out.stdout.split()[0] if out.stdout.split() else None


class LogCounter:
    """Counts "ID: removed" lines as the log grows."""

    def __init__(self, path):
        self.path, self.pos, self.removed, self.rest = path, 0, 0, b""

    def update(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return self.removed
        self.pos += len(data)
        data = self.rest + data
        cut = data.rfind(b"\n") + 1
        self.removed += data[:cut].count(b": removed\n")
        self.rest = data[cut:]
        return self.removed


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    count = int(os.environ.get("BENCH_MILLION", "1000000"))
    first = min(count, int(os.environ.get("BENCH_FIRST", "100000")))
    base = os.environ.get("BENCH_DIR", "/var/tmp")
    check_space(base, count)
    extra = {"transport_maps": "inline:{*=discard:}"}
    if os.environ.get("BENCH_ACTIVE_LIMIT"):
        extra["qmgr_message_active_limit"] = os.environ["BENCH_ACTIVE_LIMIT"]
    d = tempfile.mkdtemp(prefix="mailroom-bench-million.", dir=base)
    os.chmod(d, 0o755)
    proc = None
    try:
        mkinstance.create(d, os.path.join(build, "bin"), {"smtp": free_port()}, extra, qmgr=True,
                          services=[AGENT])
        spool = os.path.join(d, "spool")
        os.makedirs(spool, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("mailroom")
            os.chown(spool, pw.pw_uid, pw.pw_gid)
        t0 = time.time()
        fill(spool, count)
        print(f"million: {count} queue files written in {time.time() - t0:.0f} s")
        load = os.getloadavg()[0]
        t0 = time.time()
        proc = subprocess.Popen([os.path.join(build, "bin", "master"), "-c", os.path.join(d, "etc"),
                                 "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        log = LogCounter(os.path.join(d, "log", "mailroom.log"))
        pid, hwm, t_first, goal = None, 0, None, count if os.environ.get("BENCH_ALL") == "1" else first
        while log.update() < goal:
            if proc.poll() is not None:
                sys.exit("million: master exited")
            pid = pid or qmgr_pid(d)
            if pid:
                hwm = max(hwm, proc_status(pid).get("VmHWM", 0))
            if t_first is None and log.removed >= first:
                t_first = time.time() - t0
            time.sleep(0.5)
        took = time.time() - t0
        t_first = t_first or took
        st = proc_status(pid) if pid else {}
        hwm = max(hwm, st.get("VmHWM", 0))
        print(f"million: load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at the end")
        print(f"million: first {first} messages removed after {t_first:.0f} s "
              f"({first / t_first:.0f} msg/s)")
        if goal == count:
            print(f"million: all {count} removed after {took:.0f} s ({count / took:.0f} msg/s)")
        print(f"million: qmgr peak RSS (VmHWM) {hwm} kB, now {st.get('VmRSS', 0)} kB, "
              f"with {count} queued and qmgr_message_active_limit "
              f"{extra.get('qmgr_message_active_limit', 'default')}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        t0 = time.time()
        shutil.rmtree(d, ignore_errors=True)
        print(f"million: instance removed in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
