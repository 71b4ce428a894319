#!/usr/bin/python3
"""pop3_bench.py - how fast pop3d serves mailboxes, beside Dovecot's pop3.

Starts an instance with pop3d, makes USERS virtual users (sasldb entries
and a Maildir of MSGS messages of SIZE bytes each, written straight into
new/), and, unless BENCH_DOVECOT=no, a private Dovecot (dovecot-pop3d,
installed here with apt-get when missing; never the system's
/etc/dovecot) on another port over a copy of the same Maildirs, in its
high-performance login mode (service_count = 0, process_min_avail = 2).
Each server then gets the same load from bench/pop3-load (C): one client
process per user in parallel (login with USER/PASS, LIST, RETR of every
message, QUIT), ROUNDS times. Meanwhile the memory of the server's POP3
processes is sampled (largest VmHWM of one process, largest sum of Pss),
and the CPU time of the server's whole process tree is taken
before and after. Last, LOGINS sessions one after the other measure the
latency from connect to the first byte of the greeting and from PASS to
its +OK. Prints RESULT lines.

    bench/pop3_bench.py BUILD [USERS] [MSGS] [SIZE] [ROUNDS] [LOGINS]
"""
import os
import pwd
import shutil
import signal
import socket
import statistics
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

TICK = os.sysconf("SC_CLK_TCK")


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


def chown_tree(top):
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam("mailroom")
    for root, dirs, names in os.walk(top):
        for n in dirs + names:
            os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
        os.chown(root, pw.pw_uid, pw.pw_gid)


def add_users(d, users):
    with open(os.path.join(d, "etc", "vmailbox"), "a") as f:
        f.write("".join(f"{u}@mailroom.test mailroom.test/{u}/\n" for u in users))
    for u in users:
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", os.path.join(d, "etc", "sasldb2"),
                        "-u", mkinstance.SASL_REALM, u], input=b"pw-" + u.encode(), check=True)


def dovecot_start(base, users, mail_from):
    """A private Dovecot POP3 server over a copy of the Maildirs; its master
    process and port."""
    if not shutil.which("dovecot") or not os.path.exists("/usr/lib/dovecot/pop3"):
        subprocess.run(["apt-get", "install", "-y", "dovecot-pop3d"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                       stdout=subprocess.DEVNULL)
    d = os.path.join(base, "dovecot")
    for sub in ("run", "mail"):
        os.makedirs(os.path.join(d, sub))
    for u in users:
        shutil.copytree(os.path.join(mail_from, u), os.path.join(d, "mail", u))
    chown_tree(os.path.join(d, "mail"))
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write("".join(f"{u}:{{PLAIN}}pw-{u}::::::\n" for u in users))
    port = conftest.free_port()
    owner = pwd.getpwnam("mailroom") if os.geteuid() == 0 else pwd.getpwuid(os.getuid())
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""base_dir = {d}/run
state_dir = {d}/run
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = {d}/dovecot.log
first_valid_uid = 1
mail_location = maildir:~
pop3_no_flag_updates = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={d}/mail/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
  service_count = 0
  process_min_avail = 2
}}
""")
    proc = subprocess.Popen(["dovecot", "-F", "-c", conf], start_new_session=True,
                            stderr=open(os.path.join(d, "stderr"), "wb"))
    if not conftest.wait_port(port):
        proc.kill()
        raise RuntimeError("dovecot did not start: " + open(os.path.join(d, "stderr")).read())
    return proc, port


def tree(root):
    """pids of root and its descendants."""
    kids = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(pid))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu_seconds(root):
    """CPU of a process tree, exited and reaped children included."""
    total = 0
    for pid in tree(root):
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def pop3_process(pid):
    """Is pid one of the processes that serve POP3 (ours: pop3d, pop3d-login,
    pop3d-auth, pop3d-mailbox; Dovecot's: pop3, pop3-login, auth)?"""
    try:
        name = open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return False
    return name.startswith("pop3") or name == "auth"


def sample_rss(root, stop, peak):
    """peak[0]: largest VmHWM of one POP3 process; peak[1]: largest sum of
    their proportional set sizes (Pss: shared pages counted once in all)
    at one moment."""
    while not stop.is_set():
        total = 0
        for pid in filter(pop3_process, tree(root)):
            try:
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
                for line in open(f"/proc/{pid}/smaps_rollup"):
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except (OSError, ValueError):
                pass
        peak[1] = max(peak[1], total)
        time.sleep(0.02)


def latency(port, user, n):
    """connect -> first byte of the greeting, PASS -> +OK, in ms."""
    greet, login = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.recv(1)
        t1 = time.perf_counter()
        f = s.makefile("rb")
        f.readline()
        s.sendall(f"USER {user}\r\n".encode())
        f.readline()
        t2 = time.perf_counter()
        s.sendall(f"PASS pw-{user}\r\n".encode())
        assert f.readline().startswith(b"+OK")
        t3 = time.perf_counter()
        s.sendall(b"QUIT\r\n")
        f.readline()
        s.close()
        greet.append((t1 - t0) * 1000)
        login.append((t3 - t2) * 1000)
    return greet, login


def pct(values, q):
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def measure(label, root, port, users, rounds, logins):
    stop, peak = threading.Event(), [0, 0]
    sampler = threading.Thread(target=sample_rss, args=(root, stop, peak))
    sampler.start()
    rates = []
    load = [os.path.join(conftest.BIN, "pop3-load"), str(port)]
    for u in users:
        load += [u, "pw-" + u]
    try:
        for r in range(rounds):
            cpu0 = cpu_seconds(root)
            out = subprocess.run(load, capture_output=True, text=True, timeout=600)
            cpu = cpu_seconds(root) - cpu0
            if out.returncode:
                raise RuntimeError(out.stdout + out.stderr)
            res = dict(kv.split("=") for kv in out.stdout.split())
            got, secs = int(res["messages"]), float(res["seconds"])
            rates.append(got / secs)
            print(f"RESULT pop3 server={label} round={r} sessions={res['sessions']}/{len(users)} "
                  f"messages={got} seconds={secs:.2f} messages_per_second={got / secs:.0f} "
                  f"MB_per_second={int(res['octets']) / secs / 1e6:.1f} "
                  f"server_cpu_ms_per_1000_messages={cpu * 1e6 / max(got, 1):.0f}",
                  flush=True)
        greet, login = latency(port, users[0], logins)
    finally:
        stop.set()
        sampler.join()
    print(f"RESULT pop3 server={label} peak_rss_kB={peak[0]} (largest VmHWM of one POP3 process) "
          f"peak_total_pss_kB={peak[1]} (all its POP3 processes at once)")
    print(f"RESULT pop3 server={label} logins={logins} "
          f"connect_to_greeting_ms_p50={statistics.median(greet):.2f} "
          f"p95={pct(greet, 0.95):.2f} pass_to_ok_ms_p50={statistics.median(login):.2f} "
          f"p95={pct(login, 0.95):.2f}", flush=True)
    return max(rates[1:] or rates)


def main():
    args = [int(a) for a in sys.argv[2:]] + [None] * 5
    users_n, msgs, size = args[0] or 10, args[1] or 100, args[2] or 4000
    rounds, logins = args[3] or 3, args[4] or 200
    conftest.ensure_mail_users()
    base = tempfile.mkdtemp(prefix="mailroom-bench-pop3-", dir="/tmp")
    os.chmod(base, 0o755)
    ports = {"smtp": conftest.free_port(), "pop3": conftest.free_port()}
    d = mkinstance.create(base, conftest.BIN, ports, {}, qmgr=False)
    users = [f"p{i}" for i in range(users_n)]
    add_users(d, users)
    for u in users:
        fill(d, u, msgs, size)
    mail = os.path.join(d, "mail", "mailroom.test")
    dovecot = None
    if os.environ.get("BENCH_DOVECOT", "yes") != "no":
        dovecot, dport = dovecot_start(base, users, mail)  # a copy made before any session
    chown_tree(os.path.join(d, "mail"))
    inst = conftest.Instance(d, ports).start()
    conftest.wait_port(ports["pop3"])
    try:
        ours = measure("mailroom", inst.proc.pid, ports["pop3"], users, rounds, logins)
        if dovecot:
            theirs = measure("dovecot", dovecot.pid, dport, users, rounds, logins)
            print(f"RESULT pop3 ratio mailroom/dovecot messages_per_second={ours / theirs:.2f} "
                  "(best later round of each)")
    finally:
        inst.stop()
        if dovecot:
            os.killpg(dovecot.pid, signal.SIGTERM)
            dovecot.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
