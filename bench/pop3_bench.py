#!/usr/bin/python3
"""pop3_bench.py - how fast pop3d serves mailboxes.

Starts an instance with pop3d, makes USERS virtual users (sasldb entries
and a Maildir of MSGS messages of SIZE bytes each, written straight into
new/), then runs one POP3 client per user in parallel: login, LIST, RETR
of every message, QUIT, ROUNDS times. Meanwhile it samples the peak
resident size (VmHWM) of every pop3d process. Prints one RESULT line per
round and one for the memory.

    bench/pop3_bench.py BUILD [USERS] [MSGS] [SIZE] [ROUNDS]
"""
import os
import poplib
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
os.environ["MAILROOM_BUILD"] = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import conftest  # noqa: E402
import mkinstance  # noqa: E402


def fill(d, user, msgs, size):
    """msgs messages of about size bytes in user's new/, owned as local would."""
    box = os.path.join(d, "mail", "mailroom.test", user)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(box, sub), exist_ok=True)
    line = b"x" * 70 + b"\n"
    body = line * max(1, size // len(line))
    for i in range(msgs):
        text = (b"From: bench@example.org\nTo: %s@mailroom.test\nSubject: %d\n\n"
                % (user.encode(), i)) + body
        with open(os.path.join(box, "new", f"{1700000000 + i}.M{i:06d}P1Q{i}.bench,S={len(text)}"),
                  "wb") as f:
            f.write(text)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("mailroom")
        for root, dirs, names in os.walk(os.path.join(d, "mail")):
            for n in dirs + names:
                os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
            os.chown(root, pw.pw_uid, pw.pw_gid)


def add_users(d, users):
    with open(os.path.join(d, "etc", "vmailbox"), "a") as f:
        f.write("".join(f"{u}@mailroom.test mailroom.test/{u}/\n" for u in users))
    for u in users:
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", os.path.join(d, "etc", "sasldb2"),
                        "-u", mkinstance.SASL_REALM, u], input=b"pw-" + u.encode(), check=True)


def session(port, user, counts):
    p = poplib.POP3("127.0.0.1", port, timeout=60)
    p.user(user)
    p.pass_("pw-" + user)
    n = len(p.list()[1])
    size = 0
    for i in range(1, n + 1):
        size += p.retr(i)[2]
    p.quit()
    counts.append((n, size))


def peak_rss(stop, peak):
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            try:
                if open(f"/proc/{pid}/comm").read().strip() != "pop3d":
                    continue
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            except (OSError, ValueError):
                pass
        time.sleep(0.02)


def main():
    args = [int(a) for a in sys.argv[2:]] + [None] * 4
    users_n, msgs, size, rounds = args[0] or 10, args[1] or 100, args[2] or 4000, args[3] or 3
    conftest.ensure_mail_users()
    base = tempfile.mkdtemp(prefix="mailroom-bench-pop3-", dir="/tmp")
    os.chmod(base, 0o755)
    ports = {"smtp": conftest.free_port(), "pop3": conftest.free_port()}
    d = mkinstance.create(base, conftest.BIN, ports, {}, qmgr=False)
    users = [f"p{i}" for i in range(users_n)]
    add_users(d, users)
    for u in users:
        fill(d, u, msgs, size)
    inst = conftest.Instance(d, ports).start()
    conftest.wait_port(ports["pop3"])
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=peak_rss, args=(stop, peak))
    sampler.start()
    try:
        for r in range(rounds):
            counts = []
            threads = [threading.Thread(target=session, args=(ports["pop3"], u, counts))
                       for u in users]
            start = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            secs = time.time() - start
            got = sum(c[0] for c in counts)
            octets = sum(c[1] for c in counts)
            print(f"RESULT pop3 round={r} sessions={len(counts)}/{users_n} messages={got} "
                  f"seconds={secs:.2f} messages_per_second={got / secs:.0f} "
                  f"MB_per_second={octets / secs / 1e6:.1f}")
    finally:
        stop.set()
        sampler.join()
        inst.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"RESULT pop3 peak_rss_kB={peak[0]} (largest VmHWM of any pop3d process)")


if __name__ == "__main__":
    main()
