"""Kill-load: SMTP load while smtpd and cleanup processes are killed at random.

Several client threads send messages, each with a unique X-Load-Id header
and a body derived from it, first for a while without kills, then while a
killer thread sends SIGKILL to a random smtpd or cleanup child of master
every few tens of milliseconds. Afterwards every committed queue file must
parse completely (nothing half-written is visible) and carry the exact
body of its ID, every message answered 250 must be in the queue exactly
once, no ID may be there twice, and the service must have kept accepting
mail during the kills and after them.

The rates with and without kills are printed (pytest -s shows them), not
asserted: on a shared two-core machine they are not stable enough for a
bound. bench/kill-load.sh runs the same test for longer.

Durations (seconds) and threads from the environment: KILL_LOAD_CLEAN (3),
KILL_LOAD_KILL (8), KILL_LOAD_THREADS (4).
"""

import os

import killing
import qrecords as Q

CLEAN = float(os.environ.get("KILL_LOAD_CLEAN", "3"))
KILL = float(os.environ.get("KILL_LOAD_KILL", "8"))
THREADS = int(os.environ.get("KILL_LOAD_THREADS", "4"))
RCPT = "alice@mailroom.test"
QUEUES = ("incoming", "active", "deferred", "hold")


def body_of(load_id):
    """The body every message with this ID must carry, byte for byte."""
    return b"".join(b"%s line %d of a kill-load message\n" % (load_id.encode(), i)
                    for i in range(40))


def message(load_id):
    return (f"From: load@example.org\r\nTo: {RCPT}\r\nSubject: load\r\n"
            f"X-Load-Id: {load_id}\r\n\r\n").encode() + body_of(load_id).replace(b"\n", b"\r\n")


def killer(inst, stop, kills):
    """SIGKILL a random smtpd or cleanup child now and then."""
    killing.killer(inst, stop, kills, lambda turn: ("smtpd", "cleanup"), 1, (0.02, 0.15))


def queued(inst):
    """X-Load-Id -> number of committed queue files carrying it; every
    committed file must parse and carry the body of its ID."""
    seen = {}
    for q in QUEUES:
        for path in Q.files(inst.spool, q):
            try:
                data = open(path, "rb").read()
            except FileNotFoundError:
                continue
            recs = Q.parse(data)            # ValueError: a half-written file
            head, _, body = Q.content(recs).partition(b"\n\n")
            ids = [ln.split(b":", 1)[1].strip().decode() for ln in head.split(b"\n")
                   if ln.lower().startswith(b"x-load-id:")]
            assert len(ids) == 1, path
            assert body == body_of(ids[0]), f"{path}: body differs"
            seen[ids[0]] = seen.get(ids[0], 0) + 1
    return seen


def test_kill_load_exactly_once(mailroom):
    # a killed child that had no client yet throttles its service: keep
    # that short, the test wants to see the service come back
    inst = mailroom(extra={"service_throttle_time": "1s"})
    load = killing.Load(inst.ports["smtp"], RCPT, message,
                        name=lambda thread, seq: f"L{thread}-{seq}-{os.getpid()}", pause=0.01)
    kills, clean_count = killing.run_with_killer(inst, load, killer, THREADS, CLEAN, KILL)
    killed_count = len(load.accepted) - clean_count
    # the service takes mail again after the kills (master may have
    # throttled a service for service_throttle_time: give it a while)
    killing.served_again(load, 20)

    seen = queued(inst)
    answered = set(load.accepted)
    lost = sorted(i for i in answered if i not in seen)
    twice = sorted(i for i, n in seen.items() if n > 1)
    unanswered_queued = sorted(i for i in seen if i not in answered)
    print(f"\nkill-load: {THREADS} threads; clean {CLEAN:.0f}s: {clean_count} accepted "
          f"({clean_count / CLEAN:.1f}/s); kills {KILL:.0f}s: {killed_count} accepted "
          f"({killed_count / KILL:.1f}/s), {len(load.failed)} not answered 250, "
          f"kills {kills}; lost {len(lost)}, duplicated {len(twice)}, "
          f"queued without 250 {len(unanswered_queued)}, "
          f"corrupt/ {len(os.listdir(os.path.join(inst.spool, 'corrupt')))}")
    assert lost == []
    assert twice == []
    assert sum(kills.values()) > 0
    assert killed_count > 0                 # it kept serving during the kills
