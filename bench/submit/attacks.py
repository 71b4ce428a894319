#!/usr/bin/python3
"""attacks.py - what hostile local submissions cost: file size, memory, CPU.

    /usr/bin/python3 bench/submit/attacks.py BUILD_DIR [SCALE]

Three figures, each for one attack a local user can mount:
  1. postdrop fed SCALE*1,000,000 empty CONT records (one record = 2 bytes
     on disk, 0 bytes of message): the size of the maildrop file it leaves
     (0 when refused) and its exit status;
  2. a maildrop file written by hand with SCALE*1,000,000 one-byte
     recipients: pickup's peak memory (VmHWM) while it reads it;
  3. cleanup given 100,000 distinct recipients: its CPU time (duplicate
     removal).
It builds a throwaway instance under /tmp (tools/mkinstance.py) and
removes it afterwards. Run as root, the daemons run as mailroom.
"""
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tools"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import mkinstance  # noqa: E402
import qrecords  # noqa: E402


def instance(bin_dir):
    base = tempfile.mkdtemp(prefix="mailroom-bench-", dir="/tmp")
    os.chmod(base, 0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = mkinstance.create(base, bin_dir, {"smtp": port}, {})
    return base, d


def start(bin_dir, d):
    env = dict(os.environ, MAILROOM_CONFIG_DIR=os.path.join(d, "etc"))
    p = subprocess.Popen([os.path.join(bin_dir, "master"), "-c", os.path.join(d, "etc"), "-f"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                         start_new_session=True)
    for _ in range(100):
        if os.path.exists(os.path.join(d, "spool", "public", "pickup")):
            break
        time.sleep(0.1)
    return p, env


def postdrop_flood(bin_dir, d, env, n):
    data = (qrecords.rec(qrecords.SENDER, "a@b") + qrecords.rec(qrecords.RCPT, "c@d")
            + qrecords.rec(qrecords.MESG) + qrecords.rec(qrecords.CONT) * n
            + qrecords.rec(qrecords.NORM, "x") + qrecords.rec(qrecords.END))
    r = subprocess.run([os.path.join(bin_dir, "mailroom-postdrop")], input=data, env=env,
                       capture_output=True)
    files = qrecords.files(os.path.join(d, "spool"), "maildrop")
    size = sum(os.path.getsize(f) for f in files)
    for f in files:
        os.unlink(f)
    return r.returncode, size


def pickup_pid(d):
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "pickup" in line and os.path.join(d, "etc") in line:
            return int(line.split()[0])
    return None


def hwm(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pickup_rss(d, n):
    rcpts = b"".join(qrecords.rec(qrecords.RCPT, b"x") for _ in range(n))
    data = (qrecords.rec(qrecords.SENDER, "a@b") + rcpts + qrecords.rec(qrecords.MESG)
            + qrecords.rec(qrecords.NORM, "x") + qrecords.rec(qrecords.END))
    qid = qrecords.fake_qid(7)
    path = os.path.join(d, "spool", "maildrop", qid)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o544)           # u+x: the ready mark of a committed file
    pid = pickup_pid(d)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(d, "spool", "public", "pickup"))
        s.sendall(b"W")
    peak = 0
    deadline = time.time() + 300
    while os.path.exists(path) and time.time() < deadline:
        peak = max(peak, hwm(pid))
        time.sleep(0.05)
    return max(peak, hwm(pid)), len(data)


def cleanup_cpu(bin_dir, d, n):
    ours, theirs = socket.socketpair()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen([os.path.join(bin_dir, "cleanup"), "-S", "-c", os.path.join(d, "etc")],
                         stdin=theirs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs.close()
    f = ours.makefile("rwb")
    qrecords.read_attrs(f)
    f.write(b"flags=0\n\n")
    f.write(qrecords.rec(qrecords.SENDER, "a@b.example"))
    for i in range(n):
        f.write(qrecords.rec(qrecords.RCPT, f"user{i}@example.org"))
    f.write(qrecords.rec(qrecords.MESG) + qrecords.rec(qrecords.NORM, "Subject: x")
            + qrecords.rec(qrecords.NORM, "") + qrecords.rec(qrecords.NORM, "x")
            + qrecords.rec(qrecords.END))
    f.flush()
    verdict = qrecords.read_attrs(f)
    p.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return verdict.get("status"), cpu


def main():
    bin_dir = os.path.abspath(os.path.join(sys.argv[1] if len(sys.argv) > 1 else "build", "bin"))
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    base, d = instance(bin_dir)
    master, env = start(bin_dir, d)
    try:
        n = int(scale * 1000000)
        rc, size = postdrop_flood(bin_dir, d, env, n)
        print(f"postdrop, {n} empty CONT records: exit {rc}, maildrop file {size} bytes")
        peak, fsize = pickup_rss(d, n)
        print(f"pickup, maildrop file of {fsize} bytes with {n} recipients: "
              f"peak RSS {peak} kB")
        status, cpu = cleanup_cpu(bin_dir, d, 100000)
        print(f"cleanup, 100000 distinct recipients: status {status}, CPU {cpu:.2f} s")
    finally:
        os.killpg(master.pid, signal.SIGTERM)
        master.wait()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
