"""test_flow.py - flow control between qmgr and intake (docs/qmgr.md).

qmgr keeps master's token pipe filled up to in_flow_limit less the
messages it has in memory; cleanup takes a token for each message from
smtpd and waits at most in_flow_delay when there is none, then takes the
message anyway. Here delivery is stalled by stopping qmgr (SIGSTOP): no
message leaves memory, so no token comes back. The tests assert what a
client and the log show: the replies, and cleanup's line for a message
that found no token; never how long anything took.
"""
import os
import re
import signal
import smtplib

from test_master import children
from test_qmgr import agent_instance, delivered, send, wait_until

NO_TOKEN = "no flow token from qmgr within in_flow_delay"


def qmgr_pid(inst):
    pids = [pid for pid, cmd in children(inst.proc.pid).items()
            if os.path.basename(cmd.split()[0]) == "qmgr"]
    assert len(pids) == 1, f"qmgr processes: {pids}"
    return pids[0]


def queue_id(reply):
    """The queue ID from smtpd's '250 2.0.0 Ok: queued as ID'."""
    m = re.search(rb"queued as ([0-9A-Z]+)", reply[1])
    assert m, reply
    return m.group(1).decode()


def send_data(inst, rcpt):
    """One message; the reply to its end of data."""
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.ehlo()
        assert s.mail("s@example.org")[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        return s.data(b"Subject: flow\r\n\r\nhello\r\n")


def no_token_lines(inst):
    return [ln for ln in inst.log_text().splitlines() if NO_TOKEN in ln]


def test_stalled_delivery_makes_intake_wait_but_answer(mailroom):
    inst = agent_instance(mailroom, {"in_flow_limit": "2", "in_flow_delay": "1s"})
    # qmgr is up and has refilled the pipe once this one has left memory
    send(inst, ["first@x.example"])
    wait_until(lambda: len(delivered(inst, "first@x.example")) == 1, what="first delivered")
    inst.wait_log(r"removed")
    pid = qmgr_pid(inst)
    os.kill(pid, signal.SIGSTOP)
    try:
        # two tokens: two messages pass without a wait
        ids = [queue_id(send_data(inst, f"t{i}@x.example")) for i in range(2)]
        for r in ("late0@x.example", "late1@x.example"):
            reply = send_data(inst, r)
            # the client still gets its answer: the message is on disk
            assert reply[0] == 250, reply
            ids.append(queue_id(reply))
        lines = no_token_lines(inst)
        waited = {re.search(r": ([0-9A-Z]+): " + NO_TOKEN, ln).group(1) for ln in lines}
        assert waited == {ids[2], ids[3]}, lines
        assert all("the message is taken anyway" in ln for ln in lines)
    finally:
        os.kill(pid, signal.SIGCONT)
    for r in ("t0", "t1", "late0", "late1"):
        wait_until(lambda: len(delivered(inst, f"{r}@x.example")) == 1, what=f"{r} delivered")
    # delivery caught up: the tokens are back, the next message does not wait
    wait_until(lambda: inst.log_text().count(": removed") == 5, what="all five removed")
    after = queue_id(send_data(inst, "after@x.example"))
    wait_until(lambda: len(delivered(inst, "after@x.example")) == 1, what="after delivered")
    assert not any(after in ln for ln in no_token_lines(inst))
    assert len(no_token_lines(inst)) == 2


def test_reinjection_and_notices_do_not_wait(mailroom):
    """in_flow_delay = 0 on a service (the 10025 re-injection listener of
    the content filter does this) turns the wait off for its mail; qmgr's
    own notices never ask for a token."""
    inst = agent_instance(mailroom, {"in_flow_limit": "1", "in_flow_delay": "1s"},
                          smtpd_opts="-o in_flow_delay=0")
    send(inst, ["first@x.example"])
    wait_until(lambda: len(delivered(inst, "first@x.example")) == 1, what="first delivered")
    pid = qmgr_pid(inst)
    os.kill(pid, signal.SIGSTOP)
    try:
        for i in range(3):
            assert send_data(inst, f"free{i}@x.example")[0] == 250
    finally:
        os.kill(pid, signal.SIGCONT)
    # a bounce: qmgr writes the notice through cleanup without a token
    send(inst, ["bounce1@x.example"])
    inst.wait_log(r"sender non-delivery notification", timeout=20)
    for i in range(3):
        wait_until(lambda: len(delivered(inst, f"free{i}@x.example")) == 1,
                   what=f"free{i} delivered")
    assert no_token_lines(inst) == []


def sleeping_agent(inst):
    """The testagent process that is in the pause of a slow... delivery
    (in clock_nanosleep or nanosleep), or None."""
    for pid, cmd in children(inst.proc.pid).items():
        if os.path.basename(cmd.split()[0]) != "testagent":
            continue
        try:
            with open(f"/proc/{pid}/syscall") as f:
                nr = f.read().split()[0]
        except (OSError, IndexError):
            continue
        if nr in ("35", "230"):  # nanosleep, clock_nanosleep (x86-64)
            return pid
    return None


def test_a_stuck_delivery_lets_go_after_hold_time(mailroom):
    """A message whose delivery hangs (its agent stopped in the middle)
    holds its flow slot only for in_flow_hold_time: the next messages wait
    for that, not for the delivery, and find a token long before
    in_flow_delay is over (no line from cleanup)."""
    inst = agent_instance(mailroom, {"in_flow_limit": "1", "in_flow_delay": "10s",
                                     "in_flow_hold_time": "1s"})
    send(inst, ["first@x.example"])
    wait_until(lambda: len(delivered(inst, "first@x.example")) == 1, what="first delivered")
    assert send_data(inst, "slow-stuck@x.example")[0] == 250
    wait_until(lambda: sleeping_agent(inst) is not None, what="the agent in its pause")
    pid = sleeping_agent(inst)
    os.kill(pid, signal.SIGSTOP)
    try:
        for i in range(2):
            assert send_data(inst, f"next{i}@x.example")[0] == 250
        assert no_token_lines(inst) == []
        assert delivered(inst, "slow-stuck@x.example") == []
    finally:
        os.kill(pid, signal.SIGCONT)
    for r in ("slow-stuck", "next0", "next1"):
        wait_until(lambda: len(delivered(inst, f"{r}@x.example")) == 1, what=f"{r} delivered")
