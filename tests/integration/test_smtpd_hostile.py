"""test_smtpd_hostile.py - clients that try to hold a slot, fill the disk
or smuggle control bytes into the logs and the queue.

Outside clients play from 127.0.0.2 (not in mynetworks), as in
test_smtpd.py. Timings are bounds on what a user sees (a reply arrives,
or the session ends, well before the normal timeout), not benchmarks;
the slowloris figures are measured by bench/slowloris.py.
"""
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import IS_ROOT
from test_master_hardening import owner_ids
from test_smtpd import Client, QueueFile, all_queued, queued_id, send_message

NEEDS_ROOT = pytest.mark.skipif(not IS_ROOT, reason="mount needs root")


def drip(c, data, every):
    """Send data one byte at a time, `every` seconds apart, until the
    server hangs up; returns the seconds it took and what came back."""
    started = time.time()
    got = b""
    c.sock.settimeout(every)
    for i in range(len(data)):
        try:
            c.sock.sendall(data[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            chunk = c.sock.recv(1000)
            if chunk == b"":
                break
            got += chunk
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
    return time.time() - started, got


def test_junk_commands_end_the_session(mailroom):
    """5,000 pipelined NOOPs: 100 get 250, the next 421, then the server
    hangs up (it does not answer the other 4,899)."""
    inst = mailroom()
    c = Client(inst)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.example")[0] == 250
    try:
        c.send(b"NOOP\r\n" * 5000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    for _ in range(100):
        assert c.reply() == (250, ["2.0.0 Ok"])
    assert c.reply() == (421, ["4.7.0 mx.mailroom.test Error: too many errors"])
    with pytest.raises((EOFError, ConnectionResetError)):
        c.reply()
    inst.wait_log(r"too many junk commands after NOOP from unknown\[127\.0\.0\.2\] \(101\)")


def test_junk_count_starts_over_after_a_message(mailroom):
    inst = mailroom(extra={"smtpd_junk_command_limit": "3"})
    c = Client(inst)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.example")[0] == 250
    assert [c.cmd(v)[0] for v in ("NOOP", "RSET", "XYZZY")] == [250, 250, 500]
    r = send_message(c, ["alice@mailroom.test"], "Subject: x\r\n\r\nbody\r\n.\r\n")
    assert r[0] == 250
    assert [c.cmd(v)[0] for v in ("VRFY alice", "HELP", "NOOP")] == [252, 214, 250]
    assert c.cmd("NOOP") == (421, ["4.7.0 mx.mailroom.test Error: too many errors"])
    inst.wait_log(r"too many junk commands after NOOP from unknown\[127\.0\.0\.2\] \(4\)")


def test_dripping_command_hits_the_deadline(mailroom):
    """One byte a second never completes a command within smtpd_timeout:
    the deadline covers the whole command line, not each byte."""
    inst = mailroom(extra={"smtpd_timeout": "3s"})
    c = Client(inst)
    assert c.reply()[0] == 220
    took, got = drip(c, b"EHLO a-very-slow-client.example\r\n", 1.0)
    assert got == b"421 4.4.2 mx.mailroom.test Error: timeout exceeded\r\n"
    assert 2.5 < took < 6, took
    inst.wait_log(r"timeout after CONNECT from unknown\[127\.0\.0\.2\]")


def test_dripping_data_hits_the_deadline(mailroom):
    """The DATA phase too: smtpd_timeout plus one second per
    smtpd_min_data_rate bytes, so one byte a second loses."""
    inst = mailroom(extra={"smtpd_timeout": "3s"})
    c = Client(inst)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.example")[0] == 250
    assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    took, got = drip(c, b"Subject: slow\r\n\r\n" + b"x" * 40, 1.0)
    assert got == b"421 4.4.2 mx.mailroom.test Error: timeout exceeded\r\n"
    assert 2.5 < took < 6, took
    inst.wait_log(r"timeout after DATA from unknown\[127\.0\.0\.2\]")
    assert all_queued(inst) == {}


def test_slow_but_steady_data_is_accepted(mailroom):
    """A client that sends the content in a steady stream longer than
    smtpd_timeout, faster than smtpd_min_data_rate, gets its message in."""
    inst = mailroom(extra={"smtpd_timeout": "2s", "smtpd_min_data_rate": "1000"})
    c = Client(inst)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.example")[0] == 250
    assert c.cmd("MAIL FROM:<sender@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: steady\r\n\r\n")
    for _ in range(8):                      # 4 s in all, 5 kB every half second
        c.send(("y" * 998 + "\r\n") * 5)
        time.sleep(0.5)
    c.send(".\r\n")
    assert c.reply()[0] == 250


def stress_instance(mailroom, maxproc=3, **extra):
    inst = mailroom(start=False, extra=extra)
    path = os.path.join(inst.conf_dir, "master.conf")
    text = re.sub(r" inet n y ([yn]) - 100 smtpd", rf" inet n y \1 - {maxproc} smtpd", open(path).read())
    open(path, "w").write(text)
    return inst.start()


def test_stress_frees_slots_held_by_idle_clients(mailroom):
    """All 3 smtpd processes are held by clients that say nothing (300s
    timeout): master declares stress, the processes cut their deadline to
    smtpd_stress_timeout, and a fourth client gets its banner soon."""
    inst = stress_instance(mailroom, smtpd_stress_timeout="2s")
    holders = []
    for _ in range(3):
        c = Client(inst)
        assert c.reply()[0] == 220
        holders.append(c)
    inst.wait_log(r"warning: service \S+ \(127\.0\.0\.1:\d+\): all 3 processes are busy: "
                  r"under stress, shorter timeouts for 1000 seconds")
    started = time.time()
    late = Client(inst, timeout=30)
    assert late.reply()[0] == 220
    waited = time.time() - started
    assert waited < 8, waited
    inst.wait_log(r"timeout after CONNECT from unknown\[127\.0\.0\.2\]")
    # a process started under stress starts with -s and keeps the short deadline
    took, got = drip(late, b"EHLO slow.example\r\n", 1.0)
    assert got.startswith(b"421 4.4.2 ")
    assert took < 4, took


def test_helo_with_control_bytes_is_refused(mailroom):
    inst = mailroom()
    c = Client(inst)
    assert c.reply()[0] == 220
    for helo in (b"evil\x1b[31m.example", b"a\x0bb.example", b"a\rb.example",
                 b"bad\xc3utf8.example", b"over\xc0\xaelong.example"):
        c.send(b"EHLO " + helo + b"\r\n")
        assert c.reply() == (501, ["5.5.2 Error: control characters or invalid UTF-8 in EHLO "
                                   "hostname"]), helo
    c.send(b"HELO x\x7fy\r\n")
    assert c.reply()[0] == 501
    assert c.cmd("EHLO good.example")[0] == 250
    r = send_message(c, ["alice@mailroom.test"], "Subject: x\r\n\r\nbody\r\n.\r\n")
    q = QueueFile(all_queued(inst)[queued_id(r)])
    received = q.text.split(b"\n")[0]
    assert received.startswith(b"Received: from good.example (unknown [127.0.0.2])")
    inst.wait_log(r"warning: EHLO argument with control characters or broken UTF-8 from "
                  r"unknown\[127\.0\.0\.2\]: evil\\x1b\[31m\.example$")
    inst.wait_log(r"from unknown\[127\.0\.0\.2\]: bad\\xc3utf8\.example$")


def test_log_lines_never_carry_control_bytes(mailroom):
    """Whatever a client sends, the log file holds no control byte other
    than the newline that ends each line (the rule lives in msg.c)."""
    inst = mailroom()
    c = Client(inst)
    assert c.reply()[0] == 220
    c.send(b"EHLO \x1b]0;owned\x07.example\r\n")
    assert c.reply()[0] == 501
    assert c.cmd("EHLO client.example")[0] == 250
    c.send(b"MAIL FROM:<a\x1bb@example.org>\r\n")
    c.reply()
    c.send(b"RCPT TO:<\"x\x08y\"@mailroom.test>\r\n")
    c.reply()
    c.cmd("QUIT")
    inst.wait_log(r"disconnect from unknown\[127\.0\.0\.2\]")
    raw = open(inst.logfile, "rb").read()
    assert re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", raw) is None
    assert b"\\x1b]0;owned\\x07.example" in raw


def test_smtputf8_address_must_be_well_formed(mailroom):
    inst = mailroom()
    c = Client(inst)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.example")[0] == 250
    for bad in (b"j\xc0\xafrg@example.org", b"j\xb6rg@example.org", b"j\xe0\x80\xafrg@example.org"):
        c.send(b"MAIL FROM:<" + bad + b"> SMTPUTF8\r\n")
        assert c.reply() == (553, ["5.6.7 Error: malformed UTF-8 in sender address"]), bad
    c.send("MAIL FROM:<jörg@example.org> SMTPUTF8\r\n".encode())
    assert c.reply()[0] == 250
    c.send(b"RCPT TO:<al\xc3ice@mailroom.test>\r\n")
    assert c.reply() == (553, ["5.6.7 Error: malformed UTF-8 in recipient address"])


@NEEDS_ROOT
def test_full_queue_file_system_refuses_mail_from(mailroom):
    """The queue's incoming/ on an 8 MB tmpfs: MAIL FROM needs 1.5 x the
    message size (SIZE=, else message_size_limit) and queue_minfree."""
    inst = mailroom(start=False, extra={"queue_minfree": "2m"})
    incoming = os.path.join(inst.spool, "incoming")
    os.makedirs(incoming, exist_ok=True)
    uid, gid = owner_ids()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size=8m,mode=0700,uid={uid},gid={gid}",
                    "tmpfs", incoming], check=True)
    try:
        inst.start()
        c = Client(inst)
        assert c.reply()[0] == 220
        assert c.cmd("EHLO client.example")[0] == 250
        # no SIZE: room for a message of message_size_limit (10 MB) is needed
        assert c.cmd("MAIL FROM:<a@example.org>") == (452, ["4.3.1 Insufficient system storage"])
        inst.wait_log(r"warning: not enough free space in the queue file system: \d+ bytes, "
                      r"need 15360000 \(MAIL from unknown\[127\.0\.0\.2\]\)")
        assert c.cmd("MAIL FROM:<a@example.org> SIZE=100000")[0] == 250
        assert c.cmd("RCPT TO:<alice@mailroom.test>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send("Subject: fits\r\n\r\nsmall\r\n.\r\n")
        assert c.reply()[0] == 250
        # fill it up to 6.5 MB: 1.5 MB free is less than queue_minfree
        with open(os.path.join(incoming, "filler"), "wb") as f:
            f.write(b"\0" * (6 * 1024 * 1024 + 512 * 1024))
        assert c.cmd("MAIL FROM:<a@example.org> SIZE=1000") == (
            452, ["4.3.1 Insufficient system storage"])
        os.unlink(os.path.join(incoming, "filler"))
        assert c.cmd("MAIL FROM:<a@example.org> SIZE=1000")[0] == 250
        c.cmd("QUIT")
    finally:
        inst.stop()
        subprocess.run(["umount", "-l", incoming])
