"""Kill-local: kill -9 of local, of its kept Maildir child and of qmgr while
batches of mail for one user are delivered.

Client threads send messages, each with its own Message-ID, through SMTP to
bob, whose mail is one local destination: qmgr hands local up to
local_destination_batch_limit messages per connection, local's kept child
writes each file into bob's Maildir and flushes new/ once for the batch,
and only then are the recipients marked done (docs/local.md, "Batches").
After a clean phase a killer thread sends SIGKILL now and then to a local
process or its kept child (first test), or to qmgr (second test).
Afterwards, once the queue has drained:

- every message answered 250 is in bob's Maildir (never a loss);
- a message that is there twice had an attempt that qmgr counted as
  deferred (its log has a status=deferred line for that queue ID: the
  connection to local was cut) - the duplicates the design allows;
- with only qmgr killed, no message is there twice (local finishes each
  batch and marks it done whatever happens to qmgr).

KILL_LOCAL_CLEAN (2), KILL_LOCAL_KILL (6) seconds, KILL_LOCAL_THREADS (4).
"""

import os
import re
import smtplib
import threading
import time

import killing
import qrecords

CLEAN = float(os.environ.get("KILL_LOCAL_CLEAN", "2"))
KILL = float(os.environ.get("KILL_LOCAL_KILL", "6"))
THREADS = int(os.environ.get("KILL_LOCAL_THREADS", "4"))
RCPT = "bob@mailroom.test"
FAST_RETRY = {"queue_run_delay": "1s", "minimal_backoff_time": "1s",
              "maximal_backoff_time": "2s", "service_throttle_time": "1s"}


class Load:
    """Client threads sending until told to stop."""

    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.accepted = set()
        self.stop = threading.Event()

    def send_one(self, mid):
        msg = (f"From: load@example.org\r\nTo: {RCPT}\r\nMessage-ID: <{mid}@load.test>\r\n"
               f"Subject: {mid}\r\n\r\nbody of {mid}\r\n")
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=15) as s:
                s.sendmail("load@example.org", [RCPT], msg)
        except (smtplib.SMTPException, OSError):
            return False
        with self.lock:
            self.accepted.add(mid)
        return True

    def run(self, thread):
        seq = 0
        while not self.stop.is_set():
            seq += 1
            if not self.send_one(f"k{thread}-{seq}"):
                time.sleep(0.02)


def kept_children(inst):
    """PIDs of the kept Maildir children: processes named local whose
    parent is one of the instance's local processes."""
    parents = set(killing.children(inst, ("local",)))
    return [pid for pid, _, ppid in killing.processes() if ppid in parents]


def kill_local_or_child(inst, stop, kills):
    """SIGKILL a local process (odd turns) or a kept child (even turns)."""
    import random
    import signal
    rng = random.Random(3)
    turn = 0
    while not stop.is_set():
        turn += 1
        what = "local" if turn % 2 else "child"
        pids = killing.children(inst, ("local",)) if what == "local" else kept_children(inst)
        if pids:
            try:
                os.kill(rng.choice(pids), signal.SIGKILL)
                kills[what] = kills.get(what, 0) + 1
            except OSError:
                pass
        stop.wait(rng.uniform(0.05, 0.3))


def kill_qmgr(inst, stop, kills):
    killing.killer(inst, stop, kills, lambda turn: ("qmgr",), 4, (0.3, 0.8))


def maildir(inst):
    """[(Message-ID, queue ID)] of every message in bob's Maildir."""
    new = os.path.join(inst.mail, "mailroom.test", "bob", "new")
    out = []
    for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
        data = open(os.path.join(new, name), "rb").read()
        mid = re.search(rb"^Message-ID: <([^@>]+)@load\.test>", data, re.M)
        qid = re.search(rb" id ([0-9A-Z]{16})", data)
        out.append((mid.group(1).decode() if mid else None, qid.group(1).decode() if qid else None))
    return out


def drained(inst):
    return all(qrecords.files(inst.spool, q) == [] for q in ("incoming", "active", "deferred"))


def run_with_kills(mailroom, killer):
    inst = mailroom(extra=FAST_RETRY, qmgr=True)
    load = Load(inst.ports["smtp"])
    threads = [threading.Thread(target=load.run, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(CLEAN)
    kills, stop_killing = {}, threading.Event()
    k = threading.Thread(target=killer, args=(inst, stop_killing, kills))
    k.start()
    time.sleep(KILL)
    stop_killing.set()
    k.join()
    load.stop.set()
    for t in threads:
        t.join()
    deadline = time.time() + 120
    while time.time() < deadline:
        if load.accepted <= {m for m, _ in maildir(inst)} and drained(inst):
            break
        time.sleep(0.2)
    got = maildir(inst)
    counts = {}
    for mid, _ in got:
        counts[mid] = counts.get(mid, 0) + 1
    lost = sorted(load.accepted - set(counts))
    twice = sorted(m for m, n in counts.items() if n > 1)
    print(f"\nkill-local: {len(load.accepted)} accepted, {len(got)} in the Maildir, kills {kills}, "
          f"lost {len(lost)}, twice {len(twice)}")
    assert None not in counts
    assert lost == []
    return inst, got, twice, kills


def test_kill_local_and_child_mid_batch(mailroom):
    inst, got, twice, kills = run_with_kills(mailroom, kill_local_or_child)
    assert kills.get("local", 0) > 0 and kills.get("child", 0) > 0
    log = inst.log_text()
    qids = {mid: {q for m, q in got if m == mid} for mid in twice}
    for mid in twice:
        assert any(re.search(rf"{q}: to=<{re.escape(RCPT)}>, .*status=deferred", log)
                   for q in qids[mid]), f"{mid} delivered twice without a deferred attempt"


def test_kill_qmgr_mid_batch_exactly_once(mailroom):
    _, _, twice, kills = run_with_kills(mailroom, kill_qmgr)
    assert kills.get("qmgr", 0) > 0
    assert twice == []
