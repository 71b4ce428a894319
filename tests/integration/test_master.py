"""test_master.py - master and the mailroom command, end to end.

Uses two test-only daemons built from master/: testechod (single-server
skeleton; answers "echo: LINE", "pid" gives its pid) and testtrigd
(trigger skeleton; logs "trigger: N bytes"). They let these tests run
without the real mail daemons.
"""
import fcntl
import os
import re
import signal
import socket
import subprocess
import time

from conftest import free_port, wait_port


def write_master_conf(inst, lines):
    with open(os.path.join(inst.conf_dir, "master.conf"), "w") as f:
        f.write("# service type private unpriv chroot wakeup maxproc command\n")
        f.write("\n".join(lines) + "\n")


def children(ppid):
    """{pid: command line} of the live processes whose parent is ppid."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == ppid:
            out[int(name)] = cmd
    return out


def wait_until(fn, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def echo_pid(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"hello\npid\nquit\n")
        data = b""
        while True:
            chunk = s.recv(1000)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"echo: hello\n")
    return int(re.search(rb"pid: (\d+)", data).group(1))


def started(mailroom, lines, wait_ports=()):
    inst = mailroom(start=False)
    write_master_conf(inst, lines)
    inst.start(wait=False)
    for port in wait_ports:
        assert wait_port(port), inst.log_text()[-3000:]
    return inst


def test_children_spawn_and_are_restarted(mailroom):
    port = free_port()
    inst = started(mailroom, [f"127.0.0.1:{port} inet n y n - 5 testechod",
                              "trig unix n y n 1 1 testtrigd"], [port])
    master = inst.proc.pid
    pid = echo_pid(port)
    assert "testechod" in children(master)[pid]
    trig = wait_until(lambda: [p for p, c in children(master).items() if "testtrigd" in c])
    assert len(trig) == 1
    assert "-n trig -t unix -u -w 1" in children(master)[trig[0]]
    inst.wait_log(r"testtrigd\[\d+\]: trigger: 0 bytes")

    # a killed trigger daemon comes back by itself
    os.kill(trig[0], signal.SIGKILL)
    inst.wait_log(rf"warning: process \S+/testtrigd pid {trig[0]} killed by signal 9")
    new = wait_until(lambda: [p for p, c in children(master).items()
                              if "testtrigd" in c and p != trig[0]])
    assert new

    # a killed single server: the next client gets a fresh process
    os.kill(pid, signal.SIGKILL)
    inst.wait_log(rf"pid {pid} killed by signal 9")
    time.sleep(1.2)                         # the one-second back-off
    assert echo_pid(port) != pid

    # a wake-up on the trigger socket reaches the daemon
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(inst.spool, "public", "trig"))
        s.sendall(b"W")
    inst.wait_log(r"testtrigd\[\d+\]: trigger: 1 bytes")


def test_crash_loop_is_throttled(mailroom):
    inst = started(mailroom, ["crash unix n y n 5 1 testechod -o max_idle=bogus"])
    inst.wait_log(r"warning: service crash: throttling after repeated failures "
                  r"\(3 in a row\); next attempt in 60 seconds", timeout=20)
    time.sleep(3)
    log = open(inst.logfile).read()           # (log_text() adds master's stderr copy)
    assert len(re.findall(r"testechod pid \d+ exit status 1", log)) == 3
    assert "fatal: -o max_idle=bogus: bad time value (expected a number of seconds" in log
    status = inst.run(["mailroom", "status"]).stdout.decode()
    assert re.search(r"^crash\s+unix\s+\S+/public/crash\s+0\s+1\s+throttled$", status, re.M)


def held(inst):
    return len(re.findall(r"testechod\[\d+\]: held at start-up", inst.log_text()))


def one_busy_process(mailroom, maxproc):
    """A testechod service (max_idle 1) whose one process serves a client:
    (instance, port, the client's socket, the process's pid)."""
    port = free_port()
    inst = started(mailroom,
                   [f"127.0.0.1:{port} inet n y n - {maxproc} testechod -o max_idle=1"], [port])
    echo_pid(port)
    busy = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        busy.sendall(b"pid\n")
        first = int(re.match(rb"pid: (\d+)\n", busy.recv(100)).group(1))
        # the others end after a second without a client: one process left
        assert wait_until(lambda: list(children(inst.proc.pid)) == [first])
    except BaseException:
        busy.close()
        raise
    return inst, port, busy, first


def served_by(clients):
    """The pids of the processes serving the clients."""
    for c in clients:
        c.sendall(b"pid\n")
    return {int(re.match(rb"pid: (\d+)\n", c.recv(100)).group(1)) for c in clients}


def test_burst_starts_a_process_per_waiting_client(mailroom):
    """A process still starting is not idle. Once the service's processes
    said they serve one client at a time, three clients arriving while the
    only process is busy get three new processes at once (held in their
    start-up here), not one that master took for idle before it ran; each
    client is then served by its own process while all stay connected."""
    inst, port, busy, first = one_busy_process(mailroom, 4)
    clients = []
    try:
        hold = os.path.join(inst.conf_dir, "testechod.hold")
        open(hold, "w").close()
        clients = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(3)]
        assert wait_until(lambda: held(inst) == 3), inst.log_text()[-3000:]
        os.unlink(hold)
        pids = served_by(clients)
        assert len(pids) == 3 and first not in pids
        assert held(inst) == 3
    finally:
        for c in clients + [busy]:
            c.close()


def wakeups(pid):
    """How often pid has gone to sleep and been woken (context switches)."""
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    return sum(int(n) for n in re.findall(r"_ctxt_switches:\s+(\d+)", text))


def test_client_arriving_while_processes_start_wakes_master(mailroom):
    """While processes are starting for the clients that wait, master
    sleeps (it polls nothing); a client that arrives meanwhile wakes it,
    and gets a process of its own without waiting for the others to
    start."""
    inst, port, busy, first = one_busy_process(mailroom, 6)
    master = inst.proc.pid
    clients = []
    try:
        hold = os.path.join(inst.conf_dir, "testechod.hold")
        open(hold, "w").close()
        clients = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(2)]
        assert wait_until(lambda: held(inst) == 2), inst.log_text()[-3000:]
        time.sleep(0.5)   # the status file is written after the change
        before = wakeups(master)
        time.sleep(2)
        woken = wakeups(master) - before
        assert woken <= 2, f"master woke {woken} times in 2 seconds with nothing to do"
        clients.append(socket.create_connection(("127.0.0.1", port), timeout=20))
        assert wait_until(lambda: held(inst) == 3), inst.log_text()[-3000:]
        assert len(children(master)) == 4
        os.unlink(hold)
        pids = served_by(clients)
        assert len(pids) == 3 and first not in pids
    finally:
        for c in clients + [busy]:
            c.close()


def test_reload_adds_and_removes_services(mailroom):
    old, new = free_port(), free_port()
    inst = started(mailroom, [f"127.0.0.1:{old} inet n y n - 5 testechod"], [old])
    echo_pid(old)
    write_master_conf(inst, [f"127.0.0.1:{new} inet n y n - 5 testechod"])
    r = inst.run(["mailroom", "reload"])
    assert r.returncode == 0, r.stderr
    assert wait_port(new)
    echo_pid(new)

    def refused():
        try:
            socket.create_connection(("127.0.0.1", old), timeout=1).close()
            return False
        except ConnectionRefusedError:
            return True
    assert wait_until(refused)
    inst.wait_log(rf"service 127.0.0.1:{old} \(inet\) removed")


def test_sigterm_leaves_no_process(mailroom):
    port = free_port()
    inst = started(mailroom, [f"127.0.0.1:{port} inet n y n - 5 testechod",
                              "trig unix n y n 60 1 testtrigd"], [port])
    master = inst.proc.pid
    echo_pid(port)
    kids = wait_until(lambda: len(children(master)) >= 2 and children(master))
    pid_file = os.path.join(inst.spool, "pid", "master.pid")
    assert open(pid_file).read().strip() == str(master)
    inst.proc.send_signal(signal.SIGTERM)
    assert inst.proc.wait(timeout=15) == 0
    for pid in kids:
        assert not os.path.exists(f"/proc/{pid}")
    assert not os.path.exists(pid_file)
    inst.wait_log(r"master\[\d+\]: terminating on signal 15")


def test_mailroom_commands(mailroom):
    port = free_port()
    inst = mailroom(start=False)
    write_master_conf(inst, [f"127.0.0.1:{port} inet n y n - 7 testechod"])
    r = inst.run(["mailroom", "status"])
    assert r.returncode == 1
    assert r.stdout == b"mailroom: the mail system is not running\n"

    r = inst.run(["mailroom", "check"])
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""

    r = inst.run(["mailroom", "start"])
    try:
        mailroom_started(inst, port, r)
    finally:
        inst.run(["mailroom", "stop"])       # master detached: the fixture cannot stop it


def mailroom_started(inst, port, r):
    """The checks of test_mailroom_commands while the detached master runs."""
    assert r.returncode == 0, r.stderr
    assert re.search(rb"started the mail system \(master pid \d+\)", r.stderr)
    assert wait_port(port)
    echo_pid(port)
    line = re.compile(rf"^127.0.0.1:{port}\s+inet\s+127.0.0.1:{port}\s+[12]\s+7\s+running$",
                      re.M)                 # 2 if wait_port's connection was still busy
    status = wait_until(lambda: (lambda s: line.search(s) and s)(
        inst.run(["mailroom", "status"]).stdout.decode()))
    assert re.search(r"^mailroom: the mail system is running \(master pid \d+\)$", status, re.M)
    assert re.search(r"^SERVICE\s+TYPE\s+ADDRESS\s+PROCESSES\s+LIMIT\s+STATE$", status, re.M)

    r = inst.run(["mailroom", "start"])
    assert r.returncode == 1
    assert b"already running" in r.stderr

    r = inst.run(["mailroom", "config", "-n"])
    got = dict(line.split(" = ", 1) for line in r.stdout.decode().splitlines())
    conf = dict(line.split(" = ", 1)
                for line in open(os.path.join(inst.conf_dir, "mailroom.conf")).read().splitlines()
                if " = " in line)
    assert got.keys() == conf.keys()
    assert got["queue_directory"] == inst.spool
    r = inst.run(["mailroom", "config", "max_use", "myorigin"])
    assert r.stdout == b"max_use = 100\nmyorigin = mx.mailroom.test\n"
    r = inst.run(["mailroom", "config", "nosuch"])
    assert r.returncode == 1 and b"unknown parameter \"nosuch\"" in r.stderr

    r = inst.run(["mailroom", "stop"])
    assert r.returncode == 0, r.stderr
    assert b"stopped the mail system" in r.stderr
    assert inst.run(["mailroom", "status"]).returncode == 1


def test_check_finds_problems_and_start_refuses(mailroom):
    inst = mailroom(start=False)
    write_master_conf(inst, ["echo unix n y n - 1 testechod",
                             "gone unix n y n - 1 no-such-daemon",
                             "bad unix maybe y n - 1 testechod"])
    with open(os.path.join(inst.conf_dir, "mailroom.conf"), "a") as f:
        f.write("max_usee = 3\nvirtual_alias_maps = texthash:/nonexistent/file\n")
    r = inst.run(["mailroom", "check"])
    assert r.returncode == 1
    err = r.stderr.decode()
    conf = os.path.join(inst.conf_dir, "mailroom.conf")
    mconf = os.path.join(inst.conf_dir, "master.conf")
    nlines = len(open(conf).read().splitlines())
    assert f"{conf}:{nlines - 1}: unknown parameter \"max_usee\"\n" in err
    assert f"{mconf}:3: {inst.bin('no-such-daemon')}: No such file or directory\n" in err
    assert f"{mconf}:4: private column must be y, n or - (found \"maybe\")\n" in err
    assert re.search(rf"^{re.escape(conf)}:{nlines}: virtual_alias_maps: .*nonexistent", err, re.M)

    r = inst.run(["mailroom", "start"])
    assert r.returncode == 1
    assert b"not starting" in r.stderr
    assert f"unknown parameter \"max_usee\"".encode() in r.stderr
    assert inst.run(["mailroom", "status"]).returncode == 1


def test_compatibility_note(mailroom):
    inst = mailroom(start=False)
    write_master_conf(inst, ["echo unix n y n - 1 testechod"])
    inst.set_conf(compatibility_level="0")
    r = inst.run(["mailroom", "check"])
    assert r.returncode == 0
    assert (b"mailroom: note: default_chroot: using backwards-compatible default \"yes\"; "
            b"at compatibility_level 1 or higher it becomes \"no\"") in r.stdout
    assert (b"smtpd_forbid_bare_newline: using backwards-compatible default \"no\"; "
            b"at compatibility_level 2 or higher it becomes \"normalize\"") in r.stdout
    inst.set_conf(compatibility_level="2")
    r = inst.run(["mailroom", "check"])
    assert b"smtpd_forbid_bare_newline" not in r.stdout
    r = inst.run(["mailroom", "config", "smtpd_forbid_bare_newline"])
    assert r.stdout == b"smtpd_forbid_bare_newline = normalize\n"


def test_second_master_names_a_first_one_still_starting(mailroom):
    """While the first master still works through its services (here: it
    waits for a port in use to come free), a second one already reads the
    first one's pid in the locked pid file, never none. The first one is
    held (SIGSTOP) once it holds the lock and its pid is in the file, until
    the second one has answered: else, on a busy machine, the first one's
    wait for the port (2 s) could end before the second one looked, and
    the second one would find no master but the port in use."""
    port = free_port()
    inst = mailroom(start=False)
    write_master_conf(inst, [f"127.0.0.1:{port} inet n y n - 5 testechod"])
    pidfile = os.path.join(inst.spool, "pid", "master.pid")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
        first = subprocess.Popen([inst.bin("master"), "-c", inst.conf_dir, "-f"], env=inst.env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 30
            while time.time() < deadline and not (locked(pidfile)
                                                  and pid_in(pidfile) == first.pid):
                time.sleep(0.005)
            os.kill(first.pid, signal.SIGSTOP)
            assert first.poll() is None, "the first master ended before it was held"
            r = inst.run(["master", "-c", inst.conf_dir, "-f"])
        finally:
            os.kill(first.pid, signal.SIGCONT)
        err = first.communicate(timeout=60)[1]
    assert first.returncode == 1, err           # the port stayed taken: it gave up
    assert r.returncode == 1
    assert re.search(rb"fatal: the mail system is already running \(master pid %d holds \S+"
                     rb"master.pid\)" % first.pid, r.stderr), r.stderr


def pid_in(path):
    """The number in path, or None."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def locked(path):
    """1 if someone holds a flock on path."""
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
    except FileNotFoundError:
        pass
    return False


def test_port_taken_and_second_master(mailroom):
    port = free_port()
    inst = mailroom(start=False)
    write_master_conf(inst, [f"127.0.0.1:{port} inet n y n - 5 testechod"])
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
        r = inst.run(["master", "-c", inst.conf_dir, "-f"])
    assert r.returncode == 1
    assert re.search(rf"error: \S+master.conf:2: service 127.0.0.1:{port}: cannot listen on "
                     rf"127.0.0.1:{port}: .*Address already in use".encode(), r.stderr)

    inst.start(wait=False)
    assert wait_port(port)
    r = inst.run(["master", "-c", inst.conf_dir, "-f"])
    assert r.returncode == 1
    assert re.search(rb"fatal: the mail system is already running \(master pid %d holds \S+"
                     rb"master.pid\)" % inst.proc.pid, r.stderr)
