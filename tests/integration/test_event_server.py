"""test_event_server.py - the event skeleton (lib/master/event_server.c).

Drives testeventd (an echo server on the event skeleton, built from
master/) under a real master: one process serves many clients at once,
a slow or partial client does not hold up the others, max_use drains a
process without cutting its clients, silent clients time out, and in
trigger mode wake-ups arrive from a socket, a FIFO and the -w timer.
"""
import os
import socket
import time

from conftest import free_port
from test_master import children, started, wait_until


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s, s.makefile("rb")


def ask(conn, line):
    s, f = conn
    s.sendall(line + b"\n")
    return f.readline()


def event_pids(master):
    return [p for p, c in children(master).items() if "testeventd" in c]


def test_one_process_serves_many_clients(mailroom):
    port = free_port()
    inst = started(mailroom, [f"127.0.0.1:{port} inet n y n - 5 testeventd"], [port])
    conns = [connect(port) for _ in range(3)]
    pids = {ask(c, b"pid") for c in conns}
    assert len(pids) == 1
    assert ask(conns[0], b"clients") == b"clients: 3\n"
    assert len(event_pids(inst.proc.pid)) == 1

    # a client stuck in mid-line does not hold up another one
    conns[1][0].sendall(b"hel")
    assert ask(conns[2], b"other") == b"echo: other\n"
    time.sleep(0.2)
    conns[1][0].sendall(b"lo\r\n")
    assert conns[1][1].readline() == b"echo: hello\n"

    # an over-long line ends that client only
    assert ask(conns[2], b"x" * 1001) == b"error: line too long\n"
    assert conns[2][1].readline() == b""
    assert ask(conns[0], b"quit") == b""
    assert ask(conns[1], b"still") == b"echo: still\n"
    assert ask(conns[1], b"clients") == b"clients: 1\n"
    inst.wait_log(r"testeventd\[\d+\]: disconnect from 127\.0\.0\.1")


def test_max_use_drains_without_cutting_clients(mailroom):
    port = free_port()
    inst = started(mailroom, [f"127.0.0.1:{port} inet n y n - 5 testeventd -o max_use=3"],
                   [port])
    a, b = connect(port), connect(port)     # with wait_port's: 3 clients
    old = ask(a, b"pid")
    assert ask(b, b"pid") == old
    c = connect(port)                       # the old process no longer accepts
    new = ask(c, b"pid")
    assert new != old
    assert ask(a, b"after") == b"echo: after\n"
    old_pid = int(old.split()[1])
    assert os.path.exists(f"/proc/{old_pid}")
    for conn in (a, b):
        conn[1].close()
        conn[0].close()
    assert wait_until(lambda: not os.path.exists(f"/proc/{old_pid}")
                      or old_pid not in children(inst.proc.pid))
    assert ask(c, b"pid") == new


def test_silent_client_times_out(mailroom):
    port = free_port()
    started(mailroom, [f"127.0.0.1:{port} inet n y n - 5 testeventd -o ipc_timeout=1s"],
            [port])
    s, f = connect(port)
    assert ask((s, f), b"hi") == b"echo: hi\n"
    start = time.time()
    assert f.readline() == b""              # closed by the server
    assert 0.9 <= time.time() - start < 5


def test_trigger_mode(mailroom):
    inst = started(mailroom, ["trig unix n y n 1 1 testeventd",
                              "trigfifo fifo n y n - 1 testeventd"])
    inst.wait_log(r"testeventd\[\d+\]: trigger: 0 bytes")
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(inst.spool, "public", "trig"))
        s.sendall(b"WF")
    inst.wait_log(r"testeventd\[\d+\]: trigger: 2 bytes")
    fifo = os.path.join(inst.spool, "public", "trigfifo")
    assert wait_until(lambda: os.path.exists(fifo))
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"W")
    os.close(fd)
    inst.wait_log(r"testeventd\[\d+\]: trigger: 1 bytes")


def test_trigger_lines_on_a_kept_connection(mailroom):
    """A wake-up ending in a newline reaches the hook as soon as it is read,
    and the client may keep its connection for the next ones, silent for
    longer than the second an ordinary trigger client has."""
    inst = started(mailroom, ["trig unix n y n 1 1 testeventd"])
    inst.wait_log(r"testeventd\[\d+\]: trigger: 0 bytes")  # the -w tick: it listens
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(inst.spool, "public", "trig"))
        s.sendall(b"W" + b"B" * 16 + b"\n")
        inst.wait_log(r"testeventd\[\d+\]: trigger: 18 bytes")
        time.sleep(1.6)  # past ES_TRIGGER_TIMEOUT: an ordinary client is closed by now
        s.sendall(b"WW" + b"C" * 16 + b"\nW")  # a plain wake-up, a named one, a part
        inst.wait_log(r"testeventd\[\d+\]: trigger: 19 bytes")
        assert "trigger: 1 bytes" not in inst.log_text()
    # the part after the last newline comes at the end of the connection
    inst.wait_log(r"testeventd\[\d+\]: trigger: 1 bytes")
