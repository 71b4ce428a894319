"""killing.py - SIGKILL of an instance's daemons while a load runs, for the
crash tests (test_kill_load.py, test_kill_recycle.py, test_kill_local.py):
the SMTP load, the killer, and the two phases (clean, then kills)."""
import os
import random
import signal
import smtplib
import threading
import time

import qrecords


def message_with_id(rcpt, mid):
    """A small message to rcpt whose Message-ID is <mid@load.test>."""
    return (f"From: load@example.org\r\nTo: {rcpt}\r\nMessage-ID: <{mid}@load.test>\r\n"
            f"Subject: {mid}\r\n\r\nbody of {mid}\r\n")


class Load:
    """Client threads sending to rcpt over SMTP until told to stop. Each
    message is message(id) (bytes or text, CRLF line ends; by default
    message_with_id), its id name(thread, seq). accepted maps each id
    answered 250 to the phase it was sent in; failed lists the ids whose
    DATA was not answered 250."""

    def __init__(self, port, rcpt, message=None, name=lambda thread, seq: f"k{thread}-{seq}",
                 pause=0.02):
        self.port = port
        self.rcpt = rcpt
        self.message = message or (lambda mid: message_with_id(rcpt, mid))
        self.name = name
        self.pause = pause
        self.lock = threading.Lock()
        self.accepted = {}
        self.failed = []
        self.phase = "clean"
        self.stop = threading.Event()

    def send_one(self, load_id):
        """One message; True if it was answered 250."""
        phase = self.phase
        try:
            s = smtplib.SMTP("127.0.0.1", self.port, timeout=15)
        except OSError:
            return False
        try:
            s.sendmail("load@example.org", [self.rcpt], self.message(load_id))
        except (smtplib.SMTPException, OSError):
            with self.lock:
                self.failed.append(load_id)
            s.close()
            return False
        with self.lock:
            self.accepted[load_id] = phase
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()
        return True

    def run(self, thread):
        seq = 0
        while not self.stop.is_set():
            seq += 1
            if not self.send_one(self.name(thread, seq)):
                time.sleep(self.pause)


def run_with_killer(inst, load, kill, threads, clean, killing):
    """threads load threads: clean seconds without kills, then killing
    seconds while kill(inst, stop, kills) runs in a thread of its own;
    then both stop. Returns kills (by what was killed) and how many
    messages were accepted in the clean phase."""
    workers = [threading.Thread(target=load.run, args=(t,)) for t in range(threads)]
    for t in workers:
        t.start()
    time.sleep(clean)
    with load.lock:
        clean_count = len(load.accepted)
        load.phase = "kill"
    kills, stop_killing = {}, threading.Event()
    k = threading.Thread(target=kill, args=(inst, stop_killing, kills))
    k.start()
    time.sleep(killing)
    stop_killing.set()
    k.join()
    load.stop.set()
    for t in workers:
        t.join()
    return kills, clean_count


def served_again(load, timeout):
    """Send until one message is accepted (the service may be throttled
    for a while after the kills); fails the test after timeout seconds."""
    deadline, tries = time.time() + timeout, 0
    while not load.send_one(f"after-the-kills-{tries}"):
        tries += 1
        assert time.time() < deadline, "no message accepted after the kills"
        time.sleep(0.2)


def processes():
    """(pid, command, parent pid) of every process still there."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        yield int(pid), comm, int(stat[stat.rindex(")") + 2:].split()[1])


def children(inst, names):
    """PIDs of this instance's master children whose command is in names."""
    return [pid for pid, comm, ppid in processes() if comm in names and ppid == inst.proc.pid]


def killer(inst, stop, kills, pick, seed, pause):
    """Until stop is set: SIGKILL a random child named in pick(turn) (turn
    counts from 1), then wait a random time within pause (seconds, a
    pair); kills counts the kills by command name."""
    rng = random.Random(seed)
    turn = 0
    while not stop.is_set():
        turn += 1
        pids = children(inst, pick(turn))
        if pids:
            pid = rng.choice(pids)
            try:
                comm = open(f"/proc/{pid}/comm").read().strip()
                os.kill(pid, signal.SIGKILL)
                kills[comm] = kills.get(comm, 0) + 1
            except OSError:
                pass
        stop.wait(rng.uniform(*pause))


def wait_drained(inst, load, delivered, queues=("incoming", "active", "deferred"), timeout=120):
    """Wait (at most timeout seconds) until every message load had
    accepted is among delivered() (a collection of ids) and the queues
    are empty; returns whether they were."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if load.accepted.keys() <= set(delivered()) and qrecords.queues_empty(inst.spool, queues):
            return True
        time.sleep(0.2)
    return False


def tally(load, got):
    """For [(Message-ID, queue ID)] got: how many copies of each id, the
    ids load had accepted that are missing, those there more than once."""
    counts = {}
    for mid, _ in got:
        counts[mid] = counts.get(mid, 0) + 1
    lost = sorted(load.accepted.keys() - set(counts))
    twice = sorted(m for m, n in counts.items() if n > 1)
    return counts, lost, twice
