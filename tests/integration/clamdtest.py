"""clamdtest.py - a real clamd for tests (test_clamd.py, test_filterd.py).

Clamd(d).start() runs Debian's clamd in the foreground, as the user running
the tests, with a config written here: its socket in d (world-connectable,
so that daemons running as the mail owner reach it), a database directory
holding one body signature of the EICAR test string made here, and
StreamMaxLength 1 MiB. Nothing is downloaded (no freshclam); clamd starts
in well under a second with that database and unpacks archives and MIME
parts itself.
"""
import os
import signal
import socket
import subprocess
import time

CLAMD = "/usr/sbin/clamd"
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
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
        db = os.path.join(self.dir, "db")
        os.makedirs(db, exist_ok=True)
        with open(os.path.join(db, "mailroom-test.ndb"), "w") as f:
            f.write("Mailroom.Test.EICAR:0:*:%s\n" % EICAR.hex())
        conf = os.path.join(self.dir, "clamd.conf")
        with open(conf, "w") as f:
            f.write(f"LocalSocket {self.sock}\nDatabaseDirectory {db}\nForeground yes\n"
                    f"PidFile {self.dir}/clamd.pid\nTemporaryDirectory {self.dir}\n"
                    f"LogFile {self.dir}/clamd.log\nStreamMaxLength 1M\n"
                    "LocalSocketMode 666\n")
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
