"""Kill-recycle: kill -9 of qmgr and cleanup while mail flows with queue-file recycling on.

qmgr empties each delivered queue file and puts it in recycle/, and cleanup's
reservations take their files from there (docs/queue.md, "Recycled queue
files"). Client threads send messages, each with its own Message-ID, through
SMTP to the test delivery agent (one file per delivery, named after the queue
ID, so a duplicate shows as a second file); after a clean phase a killer
thread sends SIGKILL to qmgr (every third time) or to a cleanup process every
few hundred milliseconds. Afterwards, once the queue has drained: every message answered
250 was delivered, and no message was delivered twice (those not answered may
or may not have been delivered, but at most once); the deliveries' queue IDs
show that inodes were reused (the last five characters of an ID come from the
file's inode), so recycling was really in use; nothing went to corrupt/
(a kill cannot leave a recycled file that is not empty).

KILL_RECYCLE_CLEAN (2), KILL_RECYCLE_KILL (8) seconds, KILL_RECYCLE_THREADS (4).
"""

import os
import re

import killing

CLEAN = float(os.environ.get("KILL_RECYCLE_CLEAN", "2"))
KILL = float(os.environ.get("KILL_RECYCLE_KILL", "8"))
THREADS = int(os.environ.get("KILL_RECYCLE_THREADS", "4"))
RCPT = "r@recycle.example"
AGENT = "testagent      unix  y       y      n      -      20      testagent"


def killer(inst, stop, kills):
    """SIGKILL qmgr (every third kill) or a cleanup process now and then."""
    killing.killer(inst, stop, kills, lambda turn: ("qmgr",) if turn % 3 == 1 else ("cleanup",),
                   2, (0.1, 0.4))


def deliveries(inst):
    """[(Message-ID, queue ID)] of every delivery the agent wrote."""
    d = os.path.join(inst.dir, "data", "testagent", RCPT.split("@")[1], RCPT)
    out = []
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name.endswith(".tmp"):
            continue
        m = re.search(rb"^Message-ID: <([^@>]+)@load\.test>", open(os.path.join(d, name), "rb").read(),
                      re.M)
        out.append((m.group(1).decode() if m else None, name[:16]))
    return out


def test_kill_qmgr_and_cleanup_with_recycling(mailroom):
    inst = mailroom(extra={"transport_maps": "inline:{*=testagent:}", "queue_recycle_limit": "100",
                           "service_throttle_time": "1s"},
                    start=False, qmgr=True, services=[AGENT])
    top = os.path.join(inst.dir, "data", "testagent")
    os.makedirs(top, exist_ok=True)
    os.chmod(top, 0o777)
    inst.start()

    load = killing.Load(inst.ports["smtp"], RCPT)
    kills, _ = killing.run_with_killer(inst, load, killer, THREADS, CLEAN, KILL)
    killing.served_again(load, 30)

    killing.wait_drained(inst, load, lambda: [m for m, _ in deliveries(inst)])
    done = deliveries(inst)
    counts, lost, twice = killing.tally(load, done)
    inodes = {qid[11:] for _, qid in done}
    corrupt = os.listdir(os.path.join(inst.spool, "corrupt"))
    print(f"\nkill-recycle: {len(load.accepted)} accepted, {len(done)} delivered, kills {kills}, "
          f"{len(inodes)} distinct inode parts, lost {len(lost)}, twice {len(twice)}, "
          f"corrupt/ {len(corrupt)}, recycle/ {len(os.listdir(os.path.join(inst.spool, 'recycle')))}")
    assert None not in counts
    assert lost == []
    assert twice == []
    assert kills.get("qmgr", 0) > 0 and kills.get("cleanup", 0) > 0
    assert len(inodes) < len(done) / 2, "queue files were not reused"
    assert corrupt == []
