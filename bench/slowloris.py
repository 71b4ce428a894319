#!/usr/bin/python3
"""slowloris.py - how long a normal client waits for its SMTP greeting while
every smtpd slot is held by slow clients.

Starts a throwaway instance (tools/mkinstance.py) with the shipped defaults
(maxproc 100, smtpd_timeout 300s, smtpd_stress_timeout 10s), fills all 100
slots with clients of one kind, then times a normal client's connect-to-220.
Kinds:
  drip    sends one byte of an EHLO line every 2 seconds
  silent  reads the banner and says nothing
  noop    sends NOOP every 5 seconds (answered, so it never times out alone)
The holders come from 127.0.0.2-127.0.0.5 (25 each: the per-address
connection limit is 50), the timed client from 127.0.0.9.

Usage: bench/slowloris.py BUILD_DIR [kind ...]
Prints one RESULT line per kind:
  RESULT slowloris kind=drip slots=100 fill_s=0.4 greeting_s=9.7
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tools"))
import mkinstance  # noqa: E402

SLOTS = 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def holder(port, src, kind, stop, ready):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=400, source_address=(src, 0))
        s.recv(1000)
    except OSError:
        ready.release()
        return
    ready.release()
    line = b"EHLO slow-client.example\r\n"
    i = 0
    try:
        while not stop.is_set():
            if kind == "drip":
                s.sendall(line[i % len(line):i % len(line) + 1])
                i += 1
                stop.wait(2)
            elif kind == "noop":
                s.sendall(b"NOOP\r\n")
                s.recv(1000)
                stop.wait(5)
            else:
                stop.wait(1)
            s.settimeout(0.01)
            try:
                if s.recv(1000) == b"":
                    break
            except socket.timeout:
                pass
            s.settimeout(400)
    except OSError:
        pass
    s.close()


def run(build, kind):
    base = tempfile.mkdtemp(prefix="mailroom-slowloris-", dir="/tmp")
    os.chmod(base, 0o755)
    port = free_port()
    d = mkinstance.create(base, os.path.join(build, "bin"), {"smtp": port}, {})
    conf = os.path.join(d, "etc")
    master = subprocess.Popen([os.path.join(build, "bin", "master"), "-c", conf, "-f"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        stop, ready = threading.Event(), threading.Semaphore(0)
        started = time.time()
        threads = [threading.Thread(target=holder, daemon=True,
                                    args=(port, f"127.0.0.{2 + i % 4}", kind, stop, ready))
                   for i in range(SLOTS)]
        for t in threads:
            t.start()
        for _ in range(SLOTS):
            ready.acquire()
        fill = time.time() - started
        t0 = time.time()
        with socket.create_connection(("127.0.0.1", port), timeout=600,
                                      source_address=("127.0.0.9", 0)) as s:
            banner = s.recv(1000)
        greeting = time.time() - t0
        stop.set()
        ok = banner.startswith(b"220 ")
        print(f"RESULT slowloris kind={kind} slots={SLOTS} fill_s={fill:.1f} "
              f"greeting_s={greeting:.1f}{'' if ok else ' banner=' + repr(banner)}", flush=True)
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: slowloris.py BUILD_DIR [drip|silent|noop ...]")
    for kind in sys.argv[2:] or ["drip", "silent", "noop"]:
        run(os.path.abspath(sys.argv[1]), kind)


if __name__ == "__main__":
    main()
