"""killing.py - SIGKILL of an instance's daemons while a load runs, for the
crash tests (test_kill_load.py, test_kill_recycle.py)."""
import os
import random
import signal


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
