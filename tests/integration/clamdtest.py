"""clamdtest.py - a real clamd for tests (test_clamd.py, test_filterd.py).

Clamd(d).start() runs Debian's clamd in the foreground, as the user running
the tests, with a config written here: its socket in d (world-connectable,
so that daemons running as the mail owner reach it), a database directory
holding body signatures of the EICAR test string and a test string of our
own (mkinstance.clamd_files, which make run uses too), its temporary files
on a tmpfs (removed by stop), and StreamMaxLength 1 MiB. Nothing is downloaded (no freshclam); clamd starts
in well under a second with that database and unpacks archives and MIME
parts itself. With tcp=True it listens on a free loopback TCP port too
(tcp_addr), where clients can only stream (INSTREAM).

FildesRefuser(real) is a stand-in in front of the real clamd for the one
case a real clamd cannot be made to show here: a clamd that answers a
passed file descriptor (FILDES) with something other than a verdict (a
clamd built without descriptor passing, or one a security profile keeps
from reading the file). It answers "zFILDES" with "UNKNOWN COMMAND" and
relays every other request, byte for byte, to the real clamd.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import mkinstance  # noqa: E402
from mkinstance import EICAR  # noqa: E402,F401

CLAMD = "/usr/sbin/clamd"
SIGNAME = "Mailroom.Test.EICAR.UNOFFICIAL"
MESSAGE = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\n"
           b"Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n"
           b"\r\nJust some text.\r\n")


class Clamd:
    def __init__(self, d, tcp=False):
        self.dir = d
        self.sock = os.path.join(d, "clamd.sock")
        self.proc = None
        self.tcp_addr = None
        if tcp:
            from conftest import free_port
            self.tcp_addr = f"127.0.0.1:{free_port()}"

    def start(self):
        os.chmod(self.dir, 0o755)  # the mail owner reaches the socket
        conf, self.sock = mkinstance.clamd_files(self.dir, stream_max="1M")
        if self.tcp_addr:
            with open(conf, "a") as f:
                f.write("TCPAddr 127.0.0.1\nTCPSocket %s\n" % self.tcp_addr.split(":")[1])
        self.proc = subprocess.Popen([CLAMD, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not self.pong():
            assert self.proc.poll() is None, "clamd exited: " + self.log()
            assert time.time() < deadline, "clamd does not answer on its socket"
            time.sleep(0.05)

    def pong(self):
        """Does clamd answer PING? (its socket file appears before it
        listens)"""
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(self.sock)
                s.sendall(b"zPING\0")
                return s.recv(16) == b"PONG\0"
        except OSError:
            return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "clamd.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        mkinstance.clamd_temp_remove(self.dir)


class StandIn:
    """A stand-in clamd on a Unix socket NAME.sock in d (world-connectable):
    each connection goes to self.one(conn), in a thread of its own when
    threaded, else in the accepting thread, one at a time."""

    def __init__(self, d, name, threaded=True):
        self.sock = os.path.join(d, name + ".sock")
        self.threaded = threaded
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.sock)
        os.chmod(self.sock, 0o666)
        self.listener.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.threaded:
                threading.Thread(target=self.one, args=(conn,), daemon=True).start()
            else:
                self.one(conn)

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the accept
        except OSError:
            pass
        self.listener.close()

    @staticmethod
    def command(conn):
        """The client's command up to its NUL (included), or None if the
        client closed first."""
        cmd = b""
        while not cmd.endswith(b"\0"):
            got = conn.recv(1)
            if not got:
                return None
            cmd += got
        return cmd


class FildesRefuser(StandIn):
    """A Unix socket in front of the real clamd that refuses FILDES (see
    the module's docstring); commands counts the commands it saw."""

    def __init__(self, real, d):
        self.real = real
        self.commands = []
        super().__init__(d, "refuser")

    def one(self, conn):
        with conn:
            cmd = self.command(conn)
            if cmd is None:
                return
            self.commands.append(cmd.rstrip(b"\0").decode())
            if cmd == b"zFILDES\0":
                conn.sendall(b"UNKNOWN COMMAND\0")
                return
            with socket.socket(socket.AF_UNIX) as up:
                up.connect(self.real.sock)
                up.sendall(cmd)
                threading.Thread(target=self.pump, args=(conn, up), daemon=True).start()
                while True:
                    data = up.recv(65536)
                    if not data:
                        return
                    conn.sendall(data)

    @staticmethod
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    return
                dst.sendall(data)
        except OSError:
            return

