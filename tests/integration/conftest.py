"""conftest.py - start a real Mailroom instance for each test that asks.

The `mailroom` fixture is a factory: `inst = mailroom()` creates an instance
in a fresh directory (tools/mkinstance.py) on free loopback ports, starts
`master -c DIR/etc -f`, waits until the SMTP port answers, and stops it at
the end of the test. `mailroom(extra={"param": "value"}, start=False)`
changes mailroom.conf or leaves the instance stopped. Instances run without
qmgr (mail stays in incoming/) unless `qmgr=True`; `services=[...]` adds
master.conf lines (a delivery agent).

When the tests run as root, the instance runs as in production: master
stays root and the daemons drop to the `mailroom` user, which is created if
missing. The instance folder is then made traversable for that user.
"""
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tools"))
import mkinstance  # noqa: E402
import qrecords  # noqa: E402

BUILD = os.environ.get("MAILROOM_BUILD", os.path.join(TOP, "build"))
BIN = os.path.join(BUILD, "bin")
IS_ROOT = os.geteuid() == 0


_ports_given = set()


def free_port():
    """A port nobody listens on right now (the kernel's pick), never one
    this test run handed out before: the kernel may pick a port it just
    gave again, and two services of one instance then ask master for the
    same address."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def ensure_mail_users():
    """As root, make sure the mailroom and mailroom-login users and the
    mailroom-drop group exist."""
    if not IS_ROOT:
        return
    if subprocess.run(["getent", "group", "mailroom-drop"], capture_output=True).returncode:
        subprocess.run(["groupadd", "--system", "mailroom-drop"], check=True)
    if subprocess.run(["getent", "passwd", "mailroom"], capture_output=True).returncode:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                        "/nonexistent", "--shell", "/usr/sbin/nologin", "mailroom"],
                       check=True)
    # pop3d's login processes (pop3d_login_user)
    if subprocess.run(["getent", "passwd", "mailroom-login"], capture_output=True).returncode:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                        "/nonexistent", "--shell", "/usr/sbin/nologin", "mailroom-login"],
                       check=True)


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Instance:
    def __init__(self, d, ports):
        self.dir = d
        self.ports = ports
        self.conf_dir = os.path.join(d, "etc")
        self.spool = os.path.join(d, "spool")
        self.mail = os.path.join(d, "mail")
        self.logfile = os.path.join(d, "log", "mailroom.log")
        self.proc = None
        self.env = dict(os.environ, MAILROOM_CONFIG_DIR=self.conf_dir)

    def bin(self, name):
        return os.path.join(BIN, name)

    def run(self, args, **kw):
        """Run one of our programs with this instance's config."""
        kw.setdefault("capture_output", True)
        kw.setdefault("env", self.env)
        kw.setdefault("timeout", 60)
        return subprocess.run([self.bin(args[0])] + list(args[1:]), **kw)

    def set_conf(self, **params):
        """Add or replace mailroom.conf parameters (takes effect on restart/reload)."""
        path = os.path.join(self.conf_dir, "mailroom.conf")
        lines = [ln for ln in open(path).read().splitlines()
                 if ln.split("=", 1)[0].strip() not in params]
        lines += [f"{k} = {v}" for k, v in params.items()]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, wait=True):
        self.proc = subprocess.Popen(
            [self.bin("master"), "-c", self.conf_dir, "-f"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log", "master.stderr"), "ab"),
            env=self.env, start_new_session=True)
        # every SMTP listener, not just the first (master opens them in
        # turn), then the unix and fifo services
        smtp_up = wait and all(wait_port(self.ports[name])
                               for name in ("smtp", "submission", "smtps", "reinject")
                               if name in self.ports)
        if wait and "smtp" in self.ports:
            if not smtp_up or not self.wait_sockets():
                self.stop()
                raise RuntimeError("instance did not start:\n" + self.log_text()[-3000:])
        return self

    def local_sockets(self):
        """The unix and fifo endpoints master.conf names (master opens them
        one after the other, so the SMTP port may answer before the last)."""
        out = []
        for line in open(os.path.join(self.conf_dir, "master.conf")).read().splitlines():
            f = line.split()
            if len(f) >= 8 and not line[0].isspace() and not f[0].startswith("#") \
                    and f[1] in ("unix", "fifo"):
                out.append(os.path.join(self.spool, "public" if f[2] == "n" else "private", f[0]))
        return out

    def sockets_ready(self):
        """Every local endpoint is there, and a socket is listening (bind
        makes the file, listen comes after: /proc/net/unix tells)."""
        listening = set()
        with open("/proc/net/unix") as f:
            for line in f.read().splitlines()[1:]:
                cols = line.split()
                if len(cols) >= 8 and int(cols[3], 16) & 0x10000:  # __SO_ACCEPTCON
                    listening.add(cols[7])
        for path in self.local_sockets():
            if not os.path.exists(path):
                return False
            if stat.S_ISSOCK(os.stat(path).st_mode) and path not in listening:
                return False
        return True

    def wait_sockets(self, timeout=10.0):
        deadline = time.time() + timeout
        while not self.sockets_ready():
            if time.time() > deadline or self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        return True

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            for path in self.local_sockets():   # so that start() waits for the new ones
                if os.path.exists(path) and not os.path.isdir(path):
                    os.unlink(path)
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def log_text(self):
        text = ""
        for name in ("mailroom.log", "master.stderr"):
            try:
                with open(os.path.join(self.dir, "log", name), errors="replace") as f:
                    text += f.read()
            except FileNotFoundError:
                pass
        return text

    def wait_log(self, regex, timeout=10.0):
        """Wait until a log line matches; return the match (fails the test if none)."""
        deadline = time.time() + timeout
        pat = re.compile(regex, re.M)
        while True:
            m = pat.search(self.log_text())
            if m or time.time() > deadline:
                assert m, f"no log line matching {regex!r}; log tail:\n{self.log_text()[-3000:]}"
                return m
            time.sleep(0.05)

    def queue_files(self, queue="incoming"):
        """Relative paths of the files in one queue directory (hashed subfolders
        included), except cleanup's unused reservations (empty files not marked
        ready, qrecords.reservation) and the sweep's stamp file (.sweep)."""
        top = os.path.join(self.spool, queue)
        out = []
        for root, _dirs, files in os.walk(top):
            for name in files:
                if name != ".sweep" and not qrecords.reservation(os.path.join(root, name)):
                    out.append(os.path.relpath(os.path.join(root, name), top))
        return sorted(out)


@pytest.fixture
def mailroom(request):
    made = []
    ensure_mail_users()

    def factory(extra=None, start=True, ports=None, qmgr=False, services=()):
        base = tempfile.mkdtemp(prefix="mailroom-test-", dir="/tmp")
        os.chmod(base, 0o755)
        p = {name: free_port() for name in ("smtp",)}
        p.update(ports or {})
        d = mkinstance.create(base, BIN, p, extra or {}, qmgr=qmgr, services=services)
        inst = Instance(d, p)
        made.append(inst)
        if start:
            inst.start()
        return inst

    yield factory
    for inst in made:
        inst.stop()
        if request.node.rep_call.passed if hasattr(request.node, "rep_call") else True:
            shutil.rmtree(inst.dir, ignore_errors=True)
        else:
            print(f"kept failed test's instance in {inst.dir}", file=sys.stderr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep
