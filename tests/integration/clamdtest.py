"""clamdtest.py - a real clamd for tests (test_clamd.py, test_filterd.py).

Clamd(d).start() runs Debian's clamd in the foreground, as the user running
the tests, with a config written here: its socket in d (world-connectable,
so that daemons running as the mail owner reach it), a database directory
holding body signatures of the EICAR test string and a test string of our
own (mkinstance.clamd_files, which make run uses too), and StreamMaxLength
1 MiB. Nothing is downloaded (no freshclam); clamd starts
in well under a second with that database and unpacks archives and MIME
parts itself.
"""
import os
import signal
import socket
import subprocess
import sys
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
    def __init__(self, d):
        self.dir = d
        self.sock = os.path.join(d, "clamd.sock")
        self.proc = None

    def start(self):
        os.chmod(self.dir, 0o755)  # the mail owner reaches the socket
        conf, self.sock = mkinstance.clamd_files(self.dir, stream_max="1M")
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
