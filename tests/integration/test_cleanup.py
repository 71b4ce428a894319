"""test_cleanup.py - cleanup and pickup, seen from outside.

Part 1 drives `cleanup -S` (stand-alone: one client on fd 0) over a
socketpair, speaking the cleanup protocol of lib/queue/cleanup_client.h,
and checks the bytes of the queue file it commits, its answer, and what
it leaves behind on failure. Part 2 runs a whole instance and drops
maildrop files by hand, the way the postdrop helper does, for pickup.
"""
import glob
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import qrecords as Q
from conftest import BIN

HOST = "mx.cleanup.test"


class Standalone:
    """A queue directory and config for running cleanup -S."""

    def __init__(self, d, extra=None):
        self.dir = d
        self.spool = os.path.join(d, "spool")
        self.conf_dir = os.path.join(d, "etc")
        self.log = os.path.join(d, "cleanup.log")
        for sub in ("incoming", "hold", "public", "maildrop", "corrupt"):
            os.makedirs(os.path.join(self.spool, sub), exist_ok=True)
        os.makedirs(self.conf_dir, exist_ok=True)
        conf = {"queue_directory": self.spool, "maillog_file": self.log,
                "myhostname": HOST, "mydomain": "cleanup.test",
                "myorigin": "$myhostname", "mydestination": "$myhostname"}
        conf.update(extra or {})
        with open(os.path.join(self.conf_dir, "mailroom.conf"), "w") as f:
            f.write("".join(f"{k} = {v}\n" for k, v in conf.items()))

    def start(self):
        """Start cleanup -S; returns (process, our end of the socket, reader)."""
        ours, theirs = socket.socketpair()
        proc = subprocess.Popen([os.path.join(BIN, "cleanup"), "-S", "-c", self.conf_dir],
                                stdin=theirs, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        theirs.close()
        return proc, ours, ours.makefile("rb")

    def submit(self, records, flags=0):
        """Handshake, send flags and records; returns (handshake, verdict)."""
        proc, sock, rfile = self.start()
        hello = Q.read_attrs(rfile)
        sock.sendall(f"flags={flags}\n\n".encode() + records)
        verdict = Q.read_attrs(rfile)
        rfile.close()
        sock.close()
        err = proc.stderr.read().decode(errors="replace")
        assert proc.wait(timeout=10) == 0, err
        assert "ERROR" not in err and "runtime error" not in err, err
        return hello, verdict

    def files(self, queue="incoming"):
        top = os.path.join(self.spool, queue)
        return sorted(os.path.relpath(p, top) for p in glob.glob(top + "/**", recursive=True)
                      if os.path.isfile(p))

    def all_files(self):
        """Every file in incoming/ and hold/, temporary ones included."""
        return self.files("incoming") + self.files("hold")

    def read_queue_file(self, queue, qid):
        path = [p for p in self.files(queue) if p.endswith(qid)]
        assert len(path) == 1, self.files(queue)
        with open(os.path.join(self.spool, queue, path[0]), "rb") as f:
            return path[0], Q.parse(f.read())

    def log_text(self):
        try:
            return open(self.log, errors="replace").read()
        except FileNotFoundError:
            return ""


@pytest.fixture
def sa(tmp_path):
    def make(extra=None):
        return Standalone(str(tmp_path), extra)
    return make


def body(*lines):
    return [ln.encode() if isinstance(ln, str) else ln for ln in lines]


def env_records(sender, rcpts, lines, attrs=None):
    return Q.message(sender, rcpts, body(*lines), attrs=attrs, time_rec=False)


def test_commit_adds_message_id_and_date(sa):
    s = sa()
    hello, verdict = s.submit(env_records(
        "sender@example.org", ["a@example.com", "b@example.com"],
        ["Subject: test", "", "hello", "world"],
        {"client_addr": "127.0.0.1", "queue_id": "0000000000000000"}))
    qid = hello["queue_id"]
    assert hello["protocol"] == "cleanup"
    assert re.fullmatch(r"[0-9A-Z]{16}", qid)
    assert verdict == {"status": "0", "queue_id": qid, "reason": ""}
    path, recs = s.read_queue_file("incoming", qid)
    assert re.fullmatch(r"[0-9A-F]/" + qid, path)          # hash_queue_depth 1
    env = Q.envelope(recs)
    assert env["sender"] == "sender@example.org"
    assert env["rcpts"] == [("a@example.com", False), ("b@example.com", False)]
    # cleanup records the file's own queue ID; a client's queue_id is dropped
    assert env["attrs"] == {"client_addr": "127.0.0.1", "queue_id": qid}
    assert [v for t, v in recs if t == Q.ATTR].count(b"queue_id=" + qid.encode()) == 1
    text = Q.content(recs)
    head, _, rest = text.partition(b"\n\n")
    lines = head.split(b"\n")
    assert lines[0] == b"Subject: test"
    assert lines[1] == f"Message-ID: <{qid}@{HOST}>".encode()
    assert re.fullmatch(rb"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", lines[2])
    assert len(lines) == 3                                # no From: (not local)
    assert rest == b"hello\nworld\n"
    assert env["size"] == len(text)
    assert f"{qid}: message-id=<{qid}@{HOST}>" in s.log_text()
    assert [f for f in s.files("incoming") if "/." in "/" + f] == []   # no temp left


def test_local_gets_from_and_keeps_message_id(sa):
    s = sa()
    hello, verdict = s.submit(env_records(
        "alice", ["bob"], ["Message-ID: <abc@x>", "Date: Mon, 1 Jan 2024 00:00:00 +0000",
                           "", "hi"]), flags=1)
    qid = hello["queue_id"]
    assert verdict["status"] == "0"
    _, recs = s.read_queue_file("incoming", qid)
    env = Q.envelope(recs)
    assert env["sender"] == f"alice@{HOST}"               # qualified with $myorigin
    assert env["rcpts"] == [(f"bob@{HOST}", False)]
    assert Q.content(recs) == (b"Message-ID: <abc@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
                               + f"From: alice@{HOST}\n\nhi\n".encode())
    assert f"{qid}: message-id=<abc@x>" in s.log_text()


def added_headers(recs, qid):
    """The Message-ID: and Date: lines cleanup added, as queue records."""
    date = [v for t, v in recs if t == Q.NORM and v.startswith(b"Date: ")]
    assert len(date) == 1
    return [Q.rec(Q.NORM, f"Message-ID: <{qid}@{HOST}>"), Q.rec(Q.NORM, date[0])]


@pytest.mark.parametrize("lines,expect", [
    # no header at all: the first body line must stay in the body
    (["hello", "world"], ["", "hello", "world"]),
    (["hello"], ["", "hello"]),
    # a header field, then a body line without the empty line between
    (["Subject: s", "body"], None),
    # an empty line first: the client's own separator, none added
    (["", "body"], ["", "body"]),
])
def test_content_without_header_gets_the_empty_line(sa, lines, expect):
    s = sa()
    hello, verdict = s.submit(env_records("s@example.org", ["r@example.org"], lines))
    qid = hello["queue_id"]
    assert verdict["status"] == "0"
    path, recs = s.read_queue_file("incoming", qid)
    with open(os.path.join(s.spool, "incoming", path), "rb") as f:
        data = f.read()
    content = data[data.index(Q.rec(Q.MESG)) + len(Q.rec(Q.MESG)):]
    added = added_headers(recs, qid)
    end = Q.rec(Q.END, f"{qid} {Q.seal_sum(recs):08x}")   # the seal (docs/queue.md)
    if expect is None:
        want = Q.rec(Q.NORM, "Subject: s") + b"".join(added) + Q.rec(Q.NORM, "") \
            + Q.rec(Q.NORM, "body") + end
    else:
        want = b"".join(added) + b"".join(Q.rec(Q.NORM, ln) for ln in expect) + end
    assert content == want
    assert Q.envelope(recs)["size"] == len(Q.content(recs))


def test_long_line_round_trip(sa):
    s = sa()
    long_line = b"x" * 200000
    recs = (Q.rec(Q.SENDER, "s@example.org") + Q.rec(Q.RCPT, "r@example.org") + Q.rec(Q.MESG)
            + Q.rec(Q.NORM, "Subject: long") + Q.rec(Q.NORM, "")
            + Q.rec(Q.CONT, long_line[:70000]) + Q.rec(Q.NORM, long_line[70000:])
            + Q.rec(Q.END))
    hello, verdict = s.submit(recs)
    assert verdict["status"] == "0"
    _, recs = s.read_queue_file("incoming", hello["queue_id"])
    assert Q.content(recs).endswith(b"\n\n" + long_line + b"\n")


def test_hold_flag_commits_to_hold(sa):
    s = sa()
    hello, verdict = s.submit(env_records("s@x.org", ["r@x.org"], ["", "b"]), flags=2)
    assert verdict["status"] == "0"
    assert s.files("incoming") == []
    s.read_queue_file("hold", hello["queue_id"])


def test_client_gone_leaves_nothing(sa):
    s = sa()
    proc, sock, rfile = s.start()
    hello = Q.read_attrs(rfile)
    sock.sendall(b"flags=0\n\n" + Q.rec(Q.SENDER, "s@x.org") + Q.rec(Q.RCPT, "r@x.org")
                 + Q.rec(Q.MESG) + Q.rec(Q.NORM, "Subject: x") + Q.rec(Q.NORM, "")
                 + Q.rec(Q.NORM, "partial")[:5])
    rfile.close()
    sock.close()
    assert proc.wait(timeout=10) == 0
    assert s.all_files() == [], s.all_files()
    assert f"{hello['queue_id']}: reject" not in s.log_text()


def test_cleanup_killed_leaves_no_visible_file(sa):
    s = sa()
    proc, sock, rfile = s.start()
    Q.read_attrs(rfile)
    sock.sendall(b"flags=0\n\n" + Q.rec(Q.SENDER, "s@x.org") + Q.rec(Q.RCPT, "r@x.org")
                 + Q.rec(Q.MESG) + Q.rec(Q.NORM, "Subject: x"))
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # What is left (its reservations, the file it was writing) is not
    # marked ready: no reader sees it.
    left = s.files("incoming")
    assert left
    assert Q.files(s.spool, "incoming") == []
    with pytest.raises(EOFError):
        Q.read_attrs(rfile)
    # The next cleanup sweeps them when a sweep is due (0s: always).
    s2 = sa({"queue_sweep_interval": "0"})
    hello, verdict = s2.submit(env_records("s@x.org", ["r@x.org"], ["", "b"]))
    assert verdict["status"] == "0"
    assert [os.path.basename(p) for p in s2.files("incoming")] == [hello["queue_id"]]
    assert Q.files(s2.spool, "incoming") == [os.path.join(s2.spool, "incoming", s2.files()[0])]


@pytest.mark.parametrize("extra,lines,status,reason", [
    ({"message_size_limit": "1000"}, ["Subject: big", ""] + ["y" * 99] * 20, "2",
     "message size exceeds fixed limit"),
    ({"header_size_limit": "100"}, ["X-Long: " + "h" * 200, "", "b"], "2",
     "message header size exceeds limit"),
])
def test_size_limits(sa, extra, lines, status, reason):
    s = sa(extra)
    hello, verdict = s.submit(env_records("s@x.org", ["r@x.org"], lines))
    assert verdict["status"] == status and verdict["reason"] == reason
    assert s.all_files() == []
    assert f"{hello['queue_id']}: reject: {reason}" in s.log_text()


def test_malformed_and_empty(sa):
    s = sa()
    # an unknown record type in the stream
    _, verdict = s.submit(Q.rec(Q.SENDER, "s@x.org") + b"Z\x00")
    assert verdict["status"] == "3" and "malformed record" in verdict["reason"]
    # a recipient record after the content started
    _, verdict = s.submit(Q.rec(Q.SENDER, "s@x.org") + Q.rec(Q.RCPT, "r@x") + Q.rec(Q.MESG)
                          + Q.rec(Q.RCPT, "r@x") + Q.rec(Q.END))
    assert verdict["status"] == "3"
    # no recipients
    _, verdict = s.submit(Q.rec(Q.SENDER, "s@x.org") + Q.rec(Q.MESG) + Q.rec(Q.END))
    assert verdict["status"] == "4" and verdict["reason"] == "no recipients"
    assert s.all_files() == []


def test_virtual_alias_expansion(sa, tmp_path):
    aliases = tmp_path / "virtual"
    aliases.write_text("list@x.org a@x.org, b@x.org, team@x.org\n"
                       "team@x.org b@x.org, c@x.org\n"
                       "c@x.org c@x.org, c-copy@y.org\n")
    s = sa({"virtual_alias_maps": f"texthash:{aliases}"})
    hello, verdict = s.submit(env_records("s@x.org", ["list@x.org", "a@x.org"], ["", "b"]))
    assert verdict["status"] == "0", verdict
    _, recs = s.read_queue_file("incoming", hello["queue_id"])
    env = Q.envelope(recs)
    assert [r for r, _ in env["rcpts"]] == ["a@x.org", "b@x.org", "c@x.org", "c-copy@y.org"]
    assert env["orcpt"][:1] == ["rfc822;list@x.org"]


def test_virtual_alias_loop_and_broken_table(sa, tmp_path):
    aliases = tmp_path / "loop"
    aliases.write_text("a@x.org b@x.org\nb@x.org a@x.org\n")
    s = sa({"virtual_alias_maps": f"texthash:{aliases}",
            "virtual_alias_recursion_limit": "20"})
    _, verdict = s.submit(env_records("s@x.org", ["a@x.org"], ["", "b"]))
    assert verdict["status"] == "1"
    assert verdict["reason"] == "virtual alias recursion limit exceeded"
    fan = tmp_path / "fan"
    fan.write_text("big@x.org " + ", ".join(f"u{i}@x.org" for i in range(5)) + "\n")
    s3 = Standalone(str(tmp_path / "fan-out"), {"virtual_alias_maps": f"texthash:{fan}",
                                                 "virtual_alias_expansion_limit": "3"})
    _, verdict = s3.submit(env_records("s@x.org", ["big@x.org"], ["", "b"]))
    assert verdict["status"] == "1"
    assert verdict["reason"] == "virtual alias expansion limit exceeded"
    _, verdict = s3.submit(env_records("s@x.org", [f"r{i}@x.org" for i in range(10)], ["", "b"]))
    assert verdict["status"] == "0"        # the limit is per original recipient
    s2 = Standalone(str(tmp_path / "broken"),
                    {"virtual_alias_maps": f"texthash:{tmp_path}/missing"})
    _, verdict = s2.submit(env_records("s@x.org", ["a@x.org"], ["", "b"]))
    assert verdict["status"] == "1" and verdict["reason"] == "address table unavailable"
    assert s.all_files() == [] and s2.all_files() == []


# ---- Part 2: pickup in a running instance ----------------------------------

def drop(inst, data, name=None):
    """Write a maildrop file the way postdrop does: temp name, then rename."""
    md = os.path.join(inst.spool, "maildrop")
    name = name or "0" * 11 + "%05d" % (int(time.time() * 1000) % 100000)
    fd, tmp = tempfile.mkstemp(dir=md, prefix=".t")
    os.write(fd, data)
    os.close(fd)
    os.chmod(tmp, 0o744)            # the owner-execute bit marks it ready
    os.rename(tmp, os.path.join(md, name))
    return name


def wake_pickup(inst):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(os.path.join(inst.spool, "public", "pickup"))
            s.sendall(b"W")
    except OSError:
        pass     # the periodic scan will find it


def test_pickup_to_incoming_and_corrupt(mailroom):
    inst = mailroom(start=False)
    inst.set_conf(myorigin="$myhostname")
    inst.start(wait=False)
    inst.wait_log(r"pickup|master", timeout=10)
    deadline = time.time() + 10
    while not os.path.exists(os.path.join(inst.spool, "public", "pickup")):
        assert time.time() < deadline, inst.log_text()[-2000:]
        time.sleep(0.05)
    good = drop(inst, Q.message("alice", ["bob@mailroom.test"],
                                body("Subject: dropped", "", "text")))
    bad = drop(inst, Q.message("alice", ["bob@mailroom.test"], body("x"))[:-2],
               name="0" * 11 + "99999")
    wake_pickup(inst)
    m = inst.wait_log(r"mailroom/pickup\[\d+\]: ([0-9A-Z]{16}): uid=\d+ from=<alice>")
    qid = m.group(1)
    inst.wait_log(rf"{qid}: message-id=<{qid}@mx\.mailroom\.test>")
    inst.wait_log(rf"warning: {bad}: malformed maildrop file \(.*\) moved to corrupt")
    assert os.listdir(os.path.join(inst.spool, "corrupt")) == [bad]
    deadline = time.time() + 10
    while os.path.exists(os.path.join(inst.spool, "maildrop", good)):
        assert time.time() < deadline
        time.sleep(0.05)
    # qmgr may already have moved it on; if it is still in incoming, check it
    files = [f for f in inst.queue_files("incoming") if f.endswith(qid)]
    if files:
        with open(os.path.join(inst.spool, "incoming", files[0]), "rb") as f:
            recs = Q.parse(f.read())
        text = Q.content(recs)
        assert text.startswith(b"Subject: dropped\nMessage-ID: <" + qid.encode())
        assert b"\nFrom: alice@mx.mailroom.test\n\ntext\n" in text
        assert Q.envelope(recs)["sender"] == "alice@mx.mailroom.test"
    qmgr_runs = "qmgr" in open(os.path.join(inst.conf_dir, "master.conf")).read()
    assert files or qmgr_runs


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small tmpfs")
def test_disk_full_is_temporary_and_leaves_nothing(sa, tmp_path):
    s = sa()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", s.spool],
                      capture_output=True).returncode:  # environment: no CAP_SYS_ADMIN
        pytest.skip("cannot mount tmpfs here")
    try:
        for sub in ("incoming", "hold", "public"):
            os.makedirs(os.path.join(s.spool, sub))
        _, verdict = s.submit(env_records("s@x.org", ["r@x.org"],
                                          ["Subject: big", ""] + ["z" * 999] * 200))
        assert verdict["status"] == "1" and verdict["reason"] == "queue file write error"
        assert s.all_files() == []
        assert "No space left on device" in s.log_text()
    finally:
        subprocess.run(["umount", s.spool])


def test_sendmail_through_pickup_into_incoming(mailroom):
    inst = mailroom(start=False)
    inst.start(wait=False)
    deadline = time.time() + 10
    while not os.path.exists(os.path.join(inst.spool, "public", "pickup")):
        assert time.time() < deadline, inst.log_text()[-2000:]
        time.sleep(0.05)
    r = inst.run(["sendmail", "-f", "alice", "bob@mailroom.test"],
                 input=b"Subject: via sendmail\n\nhello\n")
    assert r.returncode == 0, r.stderr
    m = inst.wait_log(r"mailroom/pickup\[\d+\]: ([0-9A-Z]{16}): uid=\d+ "
                      r"from=<alice@mx\.mailroom\.test>")
    qid = m.group(1)
    inst.wait_log(rf"mailroom/cleanup\[\d+\]: {qid}: message-id=<{qid}@mx\.mailroom\.test>")
    deadline = time.time() + 10
    while os.listdir(os.path.join(inst.spool, "maildrop")):
        assert time.time() < deadline, os.listdir(os.path.join(inst.spool, "maildrop"))
        time.sleep(0.05)


def test_temp_file_of_a_killed_cleanup_is_swept(mailroom):
    """A temp file whose writer died is removed by the next cleanup, logged."""
    inst = mailroom()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = os.path.join(inst.spool, "incoming", f".t{dead.pid}.7")
    with open(stale, "wb") as f:
        f.write(b"half a message")
    live = os.path.join(inst.spool, "incoming", f".t{os.getpid()}.7")
    with open(live, "wb") as f:
        f.write(b"still being written")
    sendmail = subprocess.run([inst.bin("sendmail"), "-i", "alice@mailroom.test"],
                              input=b"Subject: x\n\nbody\n", env=inst.env, timeout=30)
    assert sendmail.returncode == 0
    inst.wait_log(rf"warning: removed \S+/\.t{dead.pid}\.7: left by process {dead.pid}")
    assert not os.path.exists(stale)
    assert os.path.exists(live)
