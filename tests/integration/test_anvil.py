"""test_anvil.py - anvil (session count and rate server) and smtpd's
client limits on top of it, end to end: the rate limit, anvil's own
protocol, smtpd serving on when anvil is killed or missing, and no files
left on disk for the counting."""
import os
import re
import signal
import socket
import time

from test_master import children, wait_until
from test_smtpd import INSIDE, Client


def write_master_conf_without(inst, service):
    path = os.path.join(inst.conf_dir, "master.conf")
    with open(path) as f:
        lines = [ln for ln in f if not ln.startswith(service + " ")]
    with open(path, "w") as f:
        f.writelines(lines)


def anvil_pids(inst):
    return [p for p, c in children(inst.proc.pid).items()
            if c.split() and c.split()[0].endswith("anvil")]


def test_rate_limit(mailroom):
    inst = mailroom(extra={"smtpd_client_connection_rate_limit": "2",
                           "anvil_rate_time_unit": "3s"})
    a = Client(inst)
    assert a.reply()[0] == 220
    a.cmd("QUIT")
    a.close()
    b = Client(inst)
    assert b.reply()[0] == 220
    c = Client(inst)
    assert c.reply() == (421, ["4.7.0 mx.mailroom.test Error: too many connections "
                               "per 3 seconds from 127.0.0.2"])
    assert c.closed()
    inst.wait_log(r"warning: Connection rate limit exceeded: 3 from unknown\[127\.0\.0\.2\] "
                  r"for service \S+$")
    # mynetworks is exempt
    d = Client(inst, src=INSIDE)
    assert d.reply()[0] == 220
    # the next window lets the client in again
    time.sleep(3.2)
    e = Client(inst)
    assert e.reply()[0] == 220


def test_rate_reply_per_minute(mailroom):
    inst = mailroom(extra={"smtpd_client_connection_rate_limit": "1"})
    a = Client(inst)
    assert a.reply()[0] == 220
    b = Client(inst)
    assert b.reply() == (421, ["4.7.0 mx.mailroom.test Error: too many connections "
                               "per minute from 127.0.0.2"])


def anvil_conn(inst):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(os.path.join(inst.spool, "private", "anvil"))
    f = s.makefile("rb")
    assert f.readline() + f.readline() == b"protocol=anvil\n\n"
    return s, f


def ask(conn, text):
    s, f = conn
    s.sendall(text.encode())
    out = []
    while True:
        line = f.readline()
        if line in (b"\n", b""):
            return out
        out.append(line.decode().rstrip("\n"))


def test_protocol_and_sessions_end_with_the_connection(mailroom):
    inst = mailroom()
    one, two = anvil_conn(inst), anvil_conn(inst)
    assert ask(one, "request=connect\nident=x:1\n\n") == ["status=0", "count=1", "rate=1"]
    assert ask(one, "request=connect\nident=x:1\n\n") == ["status=0", "count=2", "rate=2"]
    # requests may arrive in pieces and pipelined
    two[0].sendall(b"request=conn")
    time.sleep(0.1)
    assert ask(two, "ect\nident=x:1\n\nrequest=message\nident=x:1\n\n") == [
        "status=0", "count=3", "rate=3"]
    assert two[1].readline() + two[1].readline() == b"status=0\nmessage_rate=1\n"
    assert two[1].readline() == b"\n"
    # a client cannot close sessions it did not open
    assert ask(two, "request=disconnect\nident=x:1\n\n") == ["status=0"]
    assert ask(two, "request=disconnect\nident=x:1\n\n") == ["status=0"]
    assert ask(two, "request=auth_failure\nident=x:1\n\n") == [
        "status=0", "auth_failure_rate=1"]
    assert ask(two, "request=lookup\nident=x:1\n\n") == [
        "status=0", "count=2", "rate=3", "message_rate=1", "auth_failure_rate=1"]
    # the connection that opened them goes away: so do its sessions
    one[1].close()
    one[0].close()
    assert wait_until(lambda: ask(two, "request=lookup\nident=x:1\n\n")[1] == "count=0")
    assert ask(two, "request=frob\nident=x:1\n\n") == ["status=2", "reason=unknown request"]
    assert ask(two, "request=connect\n\n") == [
        "status=2", "reason=request without request= or ident="]
    assert ask(two, "bad line\n\n") == []          # malformed: the connection ends
    inst.wait_log(r"anvil\[\d+\]: warning: client local: malformed attribute \"bad line\"")
    assert len(anvil_pids(inst)) == 1


def test_anvil_killed(mailroom):
    """kill -9 anvil: smtpd keeps serving, master starts a new anvil, and
    the limits work again with it."""
    inst = mailroom(extra={"smtpd_client_connection_count_limit": "1"})
    a = Client(inst)
    assert a.reply()[0] == 220
    old = wait_until(lambda: anvil_pids(inst))
    assert len(old) == 1
    os.kill(old[0], signal.SIGKILL)
    inst.wait_log(rf"pid {old[0]} killed by signal 9")
    b = Client(inst)                        # the new anvil knows nothing of a
    assert b.reply()[0] == 220
    new = wait_until(lambda: [p for p in anvil_pids(inst) if p != old[0]])
    assert new
    c = Client(inst)                        # ... but counts b
    assert c.reply() == (421, ["4.7.0 mx.mailroom.test Error: too many connections "
                               "from 127.0.0.2"])
    assert a.cmd("NOOP")[0] == 250


def test_anvil_missing_fails_open(mailroom):
    inst = mailroom(start=False, extra={"smtpd_client_connection_count_limit": "1"})
    write_master_conf_without(inst, "anvil")
    inst.start()
    a, b = Client(inst), Client(inst)
    assert a.reply()[0] == 220 and b.reply()[0] == 220
    inst.wait_log(r"smtpd\[\d+\]: warning: anvil: \S*/private/anvil: .*: client limits "
                  r"not enforced for unknown\[127\.0\.0\.2\]")


def test_no_lock_files(mailroom):
    """The count lives in anvil's memory: nothing is created on disk."""
    inst = mailroom(extra={"smtpd_client_connection_count_limit": "2"})
    a = Client(inst)
    assert a.reply()[0] == 220
    a.cmd("QUIT")
    inst.wait_log(r"disconnect from unknown\[127\.0\.0\.2\]")
    data = os.path.join(inst.dir, "data")
    assert not os.path.exists(os.path.join(data, "smtpd-conn"))
    assert not any(re.search(r"conn", n) for n in os.listdir(data))


def test_message_rate_limit(mailroom):
    inst = mailroom(extra={"smtpd_client_message_rate_limit": "2"})
    c = Client(inst)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.test")[0] == 250
    for _ in range(2):
        assert c.cmd("MAIL FROM:<a@client.test>")[0] == 250
        assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<a@client.test>") == (
        450, ["4.7.1 Error: too much mail from 127.0.0.2"])
    inst.wait_log(r"warning: Message delivery request rate limit exceeded: 3 from "
                  r"unknown\[127\.0\.0\.2\] for service \S+$")
    # the session goes on; mynetworks is exempt
    assert c.cmd("NOOP")[0] == 250
    d = Client(inst, src=INSIDE)
    assert d.reply()[0] == 220
    assert d.cmd("EHLO client.test")[0] == 250
    for _ in range(3):
        assert d.cmd("MAIL FROM:<a@client.test>")[0] == 250
        assert d.cmd("RSET")[0] == 250


def test_statistics_are_logged(mailroom):
    inst = mailroom(extra={"anvil_status_update_time": "1s"})
    a, b = Client(inst), Client(inst)
    assert a.reply()[0] == 220 and b.reply()[0] == 220
    inst.wait_log(r"anvil\[\d+\]: statistics: max connection count 2 for "
                  r"\(\S+:127\.0\.0\.2\) at \w{3} [ \d]\d \d\d:\d\d:\d\d$")
    inst.wait_log(r"anvil\[\d+\]: statistics: max connection rate 2/60s for "
                  r"\(\S+:127\.0\.0\.2\) at ")
