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

import killing

CLEAN = float(os.environ.get("KILL_LOCAL_CLEAN", "2"))
KILL = float(os.environ.get("KILL_LOCAL_KILL", "6"))
THREADS = int(os.environ.get("KILL_LOCAL_THREADS", "4"))
RCPT = "bob@mailroom.test"
FAST_RETRY = {"queue_run_delay": "1s", "minimal_backoff_time": "1s",
              "maximal_backoff_time": "2s", "service_throttle_time": "1s"}


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


def run_with_kills(mailroom, killer):
    inst = mailroom(extra=FAST_RETRY, qmgr=True)
    load = killing.Load(inst.ports["smtp"], RCPT)
    kills, _ = killing.run_with_killer(inst, load, killer, THREADS, CLEAN, KILL)
    killing.wait_drained(inst, load, lambda: [m for m, _ in maildir(inst)])
    got = maildir(inst)
    counts, lost, twice = killing.tally(load, got)
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
