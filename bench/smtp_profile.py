#!/usr/bin/python3
"""smtp_profile.py - what one accepted message costs each process on the path.

    /usr/bin/python3 bench/smtp_profile.py BUILD

A throwaway instance (tools/mkinstance.py; without qmgr unless
PROFILE_MODE=full, in which case qmgr and local deliver every message into
a Maildir) takes PROFILE_MESSAGES messages of 4 KiB from smtp-load at
PROFILE_SESSIONS sessions, one message per connection, twice:

1. plain: before and after, every process under master is read from /proc
   (utime + stime, voluntary and involuntary context switches). The table
   gives, per process name, CPU milliseconds and context switches per
   accepted message. The instance runs with max_use = 0, so the processes
   that serve the run live through it and are counted by name; a process
   that exited during the run is counted through master's cutime/cstime
   under "(exited)", and the children a live process forked and reaped
   (local's per-delivery children) under "NAME (its children)".
2. under strace -f (when strace is installed; PROFILE_STRACE=0 skips it):
   system calls per message by process name, and the most frequent ones.
   strace slows everything down; only the counts are meant.

smtp-load's RESULT line is printed too: its steps_p50_ms says where a
message's wall time goes (connect, EHLO, MAIL, RCPT, DATA, end of data,
QUIT). Device cache flushes per message are bench/flush-count.sh's job.

Environment: PROFILE_MESSAGES (2000), PROFILE_SESSIONS (1), PROFILE_MODE
(intake), PROFILE_TOP (8: system calls named per process), BENCH_DIR
(/var/tmp): where the instance lives, on an ext4 block group of its own
(bench/blockgroups.py; BENCH_ROWS=shared: in BENCH_DIR's as before), so
that the inodes other benchmarks just freed do not make its files dearer.
"""
import collections
import os
import re
import shutil
import socket
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tools"))
import mkinstance  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blockgroups  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stat(pid):
    """(ppid, name, [utime, stime, cutime, cstime], ctx switches) or None"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        with open(f"/proc/{pid}/status") as f:
            csw = sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), s[s.index("(") + 1:s.rindex(")")], [int(x) for x in rest[11:15]], csw


def tree(root):
    """pid -> proc_stat for root and every process below it"""
    every = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            st = proc_stat(int(p))
            if st:
                every[int(p)] = st
    out = {}
    for p in every:
        q = p
        while q in every and q > 1:
            if q == root:
                out[p] = every[p]
                break
            q = every[q][0]
    return out


def load(build, port, n, sessions):
    cmd = [os.path.join(build, "bin", "smtp-load"), "-q", "-c", str(sessions), "-m", str(n),
           "-t", "bob@mailroom.test", f"127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    m = re.search(r" accepted=(\d+)", out)
    return out, int(m.group(1)) if m else 0


def cpu_table(root, before, after, accepted):
    """per name: [user ms, sys ms, ctx switches] per message"""
    per = collections.defaultdict(lambda: [0, 0, 0])
    for pid, (_, name, t, csw) in after.items():
        old = before.get(pid)
        if old and old[1] == name:
            d = [t[0] - old[2][0], t[1] - old[2][1], csw - old[3]]
        else:
            name, d = name + " (new)", [t[0], t[1], csw]
        if pid == root:  # children reaped during the run
            reaped = per["(exited)"]
            reaped[0] += t[2] - old[2][2]
            reaped[1] += t[3] - old[2][3]
        elif old and old[1] == name and (t[2] - old[2][2]) + (t[3] - old[2][3]) > 0:
            # children it forked and reaped (local's per-delivery children)
            forked = per[name + " (its children)"]
            forked[0] += t[2] - old[2][2]
            forked[1] += t[3] - old[2][3]
        for i in range(3):
            per[name][i] += d[i]
    rows = []
    for name, (u, s, c) in sorted(per.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        rows.append((name, (u + s) * 1000 / HZ / accepted, u * 1000 / HZ / accepted,
                     s * 1000 / HZ / accepted, c / accepted))
    return rows


def strace_counts(build, root, port, n, sessions, work):
    """syscalls per message by process name, from one strace -f of the tree"""
    pids = tree(root)
    out = os.path.join(work, "strace.out")
    args = ["strace", "-f", "-qq", "-o", out]
    for p in pids:
        args += ["-p", str(p)]
    tracer = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # attached
    res, accepted = load(build, port, n, sessions)
    time.sleep(0.3)
    names = {p: st[1] for p, st in tree(root).items()}
    names.update({p: st[1] for p, st in pids.items()})
    tracer.terminate()
    tracer.wait()
    counts = collections.defaultdict(collections.Counter)
    start = re.compile(r"^(\d+)\s+(\w+)\(")
    with open(out, errors="replace") as f:
        for line in f:
            m = start.match(line)
            if m:
                counts[names.get(int(m.group(1)), "?")][m.group(2)] += 1
    return counts, accepted


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    n = int(os.environ.get("PROFILE_MESSAGES", "2000"))
    sessions = int(os.environ.get("PROFILE_SESSIONS", "1"))
    mode = os.environ.get("PROFILE_MODE", "intake")
    rows = blockgroups.Rows(os.environ.get("BENCH_DIR", "/var/tmp"), "mailroom-bench-profile.",
                            os.environ.get("BENCH_ROWS", "apart") != "shared")
    work = rows.own_dir("run.")
    port = free_port()
    d = mkinstance.create(os.path.join(work, "inst"), os.path.join(build, "bin"),
                          {"smtp": port, "submission": free_port(), "reinject": free_port()},
                          {"max_use": "0"}, qmgr=(mode == "full"))
    master = subprocess.Popen([os.path.join(build, "bin", "master"), "-c", os.path.join(d, "etc"), "-f"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        load(build, port, 300, 10)
        load(build, port, 200, sessions)
        print(f"smtp-profile: {mode}, {sessions} session(s), {n} messages of 4 KiB, "
              f"load average {os.getloadavg()[0]:.2f}")
        before = tree(master.pid)
        res, accepted = load(build, port, n, sessions)
        after = tree(master.pid)
        print(res)
        if accepted == 0:
            print("smtp-profile: no message accepted")
            return 1
        print(f"{'process':<16} {'CPU ms/msg':>10} {'user':>7} {'sys':>7} {'ctxsw/msg':>10}")
        total = [0, 0]
        for name, cpu, u, s, c in cpu_table(master.pid, before, after, accepted):
            total[0] += cpu
            total[1] += c
            print(f"{name:<16} {cpu:>10.3f} {u:>7.3f} {s:>7.3f} {c:>10.2f}")
        print(f"{'total':<16} {total[0]:>10.3f} {'':>7} {'':>7} {total[1]:>10.2f}")
        if os.environ.get("PROFILE_STRACE", "1") != "0" and shutil.which("strace"):
            counts, accepted = strace_counts(build, master.pid, port, n, sessions, work)
            print(f"system calls per message (strace -f, {accepted} messages):")
            for name, c in sorted(counts.items(), key=lambda kv: -sum(kv[1].values())):
                most = c.most_common(int(os.environ.get("PROFILE_TOP", "8")))
                top = ", ".join(f"{k} {v / accepted:.2f}" for k, v in most)
                print(f"  {name:<14} {sum(c.values()) / accepted:6.2f}  ({top})")
            print(f"  {'total':<14} {sum(sum(c.values()) for c in counts.values()) / accepted:6.2f}")
    finally:
        master.terminate()
        try:
            master.wait(15)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()
        rows.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
