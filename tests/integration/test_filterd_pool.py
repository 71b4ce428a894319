"""test_filterd_pool.py - filterd's long-lived workers with a real clamd and
a real 10025 smtpd: a worker killed in the middle of a message, the kept
session with 10025 gone between messages (closed so that the worker can
see it, and gone without a sign until the next MAIL), the kept session
closed after filterd_reinject_cache_time, and clamd restarted between
messages. Between filterd and 10025 sits a small TCP relay written here
(Relay): it forwards every byte and lets a test hold 10025's replies or
cut the connections, which a real smtpd cannot be told to do.
"""
import os
import re
import signal
import smtplib
import socket
import threading
import time

from clamdtest import EICAR, SIGNAME
from conftest import free_port
from test_filterd import ALICE, clamd, filterd_procs, maildir, message, wait_for  # noqa: F401


class Relay:
    """127.0.0.1:port -> 127.0.0.1:target, byte for byte. hold() keeps
    the server's bytes back until release(); cut() closes both sides of
    every connection; cut_at_next_command() closes a connection when the
    client next sends something, without passing it on. accepted counts
    connections, ended those that have ended (ended_at: when); errors says
    why a connection to the target failed (the client's is then closed)."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", free_port()))   # not one of the instance's
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.pairs = []
        self.accepted = 0
        self.ended = 0
        self.ended_at = []   # time.monotonic() of each end
        self.released = threading.Event()
        self.released.set()
        self.cut_next = False
        self.errors = []   # connections to the target that failed
        self.client_chunks = []   # what each read from a client brought
        self.lock = threading.Lock()
        self.acceptor = threading.Thread(target=self.accept_loop, daemon=True)
        self.acceptor.start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.target), timeout=10)
                s.settimeout(None)
            except OSError as e:
                # a relay that died here would leave every later client
                # waiting for a greeting: say why, and keep accepting
                self.errors.append(f"connect to 10025 port {self.target}: {e!r}")
                c.close()
                continue
            pair = [c, s, 2]   # the sockets, and the pumps still running
            with self.lock:
                self.pairs.append(pair)
                self.accepted += 1
            threading.Thread(target=self.pump, args=(pair, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(pair, False), daemon=True).start()

    def pump(self, pair, from_client):
        """One direction of a pair. A pump that ends shuts both sockets
        down (which wakes the other one); the last one closes them, so
        no thread ever reads a descriptor that another has closed."""
        src, dst = (pair[0], pair[1]) if from_client else (pair[1], pair[0])
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if data and from_client:
                self.client_chunks.append(data)
            if data and from_client and self.cut_next:
                self.cut_next = False
                data = b""
            if data and not from_client:
                self.released.wait()
            try:
                if data:
                    dst.sendall(data)
                    continue
            except OSError:
                pass
            break
        self.shut(pair)
        with self.lock:
            pair[2] -= 1
            last = pair[2] == 0
            if last:
                self.ended += 1
                self.ended_at.append(time.monotonic())
                if pair in self.pairs:
                    self.pairs.remove(pair)
        if last:
            pair[0].close()
            pair[1].close()

    @staticmethod
    def shut(pair):
        for x in pair[:2]:
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def hold(self):
        self.released.clear()

    def release(self):
        self.released.set()

    def cut(self):
        with self.lock:
            pairs = list(self.pairs)
        for pair in pairs:
            self.shut(pair)

    def cut_at_next_command(self):
        self.cut_next = True

    def stop(self):
        """The listening socket is shut down first, which wakes the accept
        thread (accept() fails), and closed only once that thread has
        ended: a thread still in accept() on a closed descriptor number
        could take the connections of a later test's socket that got the
        same number, and close them for want of its own (gone) 10025."""
        self.release()
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.acceptor.join(30)
        assert not self.acceptor.is_alive(), "the relay's accept thread did not end"
        self.lsock.close()
        self.cut()


def relayed_instance(mailroom, clamd, **extra):
    """An instance whose filterd re-injects through a Relay to 10025."""
    ports = {"reinject": free_port(), "filter": free_port()}
    relay = Relay(ports["reinject"])
    conf = {"filterd_clamd_socket": clamd.sock, "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s", "queue_run_delay": "1s",
            "filterd_reinject_nexthop": f"127.0.0.1:{relay.port}"}
    conf.update(extra)
    return mailroom(qmgr=True, extra=conf, ports=ports), relay


def session(inst):
    s = smtplib.SMTP("127.0.0.1", inst.ports["filter"], timeout=60)
    s.ehlo("qmgr.test")
    return s


def send(s, mid, body=b"Just some text.\r\n"):
    """One transaction on an open session: (code, text) of the dot."""
    s.mail("carol@example.org")
    s.rcpt(ALICE)
    return s.data(message(mid, body))


def delivered(inst):
    """Message-IDs in alice's Maildir, each as often as it arrived."""
    out = []
    for path in maildir(inst, "alice"):
        m = re.search(rb"Message-ID: <([^>]+)>", open(path, "rb").read())
        out.append(m.group(1).decode())
    return sorted(out)


def envelopes(relay):
    """How many transactions the relay saw the client start (MAIL FROM)."""
    return sum(c.startswith(b"MAIL FROM:") for c in relay.client_chunks)


def settled(inst):
    """Nothing left in the queue: every copy 10025 accepted is delivered
    (10025 answers only once its copy is queued, so after filterd's reply
    no copy can come later)."""
    return not any(inst.queue_files(q) for q in ("incoming", "active", "deferred"))


def filterd_workers(inst):
    """The pooled workers: filterd processes whose parent is a filterd
    session process (a child of master)."""
    procs = filterd_procs()
    sessions = {p for p, pp in procs.items() if pp == inst.proc.pid}
    return sorted(p for p, pp in procs.items() if pp in sessions)


def test_one_worker_many_messages(mailroom, clamd):
    """Messages on one session and on new sessions go through the same
    worker and the same session with 10025: one connection for all."""
    inst, relay = relayed_instance(mailroom, clamd)
    try:
        with session(inst) as s:
            for i in range(3):
                assert send(s, f"m{i}@example.org")[0] == 250
        with session(inst) as s:
            assert send(s, "m3@example.org")[0] == 250
        assert len(filterd_workers(inst)) == 1
        assert relay.accepted == 1
        assert wait_for(lambda: len(delivered(inst)) == 4), inst.log_text()[-3000:]
        assert delivered(inst) == [f"m{i}@example.org" for i in range(4)]
    finally:
        relay.stop()


def test_reinject_pipelined(mailroom, clamd):
    """10025 offers PIPELINING: MAIL, RCPT and DATA go in one write (one
    round trip before the content). A recipient 10025 refuses gets its
    RCPT reply (DATA, refused for want of a recipient, changes nothing)
    and the kept session serves the next message."""
    inst, relay = relayed_instance(mailroom, clamd)
    try:
        with session(inst) as s:
            assert send(s, "p1@example.org")[0] == 250
            s.mail("carol@example.org")
            s.rcpt("nobody@mailroom.test")
            code, text = s.data(message("p2@example.org"))
            assert code == 550 and b"said after RCPT TO: 550 5.1.1 " in text, text
            assert send(s, "p3@example.org")[0] == 250
        envelopes = [c for c in relay.client_chunks if c.startswith(b"MAIL FROM:")]
        assert len(envelopes) == 3, relay.client_chunks
        assert all(re.fullmatch(rb"MAIL FROM:<carol@example\.org>[^\r]*\r\n"
                                rb"RCPT TO:<[a-z]+@mailroom\.test>[^\r]*\r\nDATA\r\n", c)
                   for c in envelopes), envelopes
        assert relay.accepted == 1
        assert wait_for(lambda: len(delivered(inst)) == 2), inst.log_text()[-3000:]
        assert delivered(inst) == ["p1@example.org", "p3@example.org"]
    finally:
        relay.stop()


def test_kill_worker_mid_message(mailroom, clamd):
    """kill -9 of the worker while 10025's replies to its envelope are held
    back: the client hears 451 4.3.0 at once, the session goes on with a
    new worker, and nothing of the killed transaction arrives (10025 lost
    the connection before DATA)."""
    inst, relay = relayed_instance(mailroom, clamd)
    try:
        with session(inst) as s:
            assert send(s, "before@example.org")[0] == 250
            (worker,) = filterd_workers(inst)
            relay.hold()
            result = {}
            t = threading.Thread(target=lambda: result.update(r=send(s, "killed@example.org")))
            t.start()
            # the worker sent its envelope and waits for 10025's replies
            assert wait_for(lambda: envelopes(relay) == 2), relay.client_chunks
            assert t.is_alive()
            os.kill(worker, signal.SIGKILL)
            t.join(30)
            relay.release()
            code, text = result["r"]
            assert code == 451 and text == b"4.3.0 Error: internal error in the content filter"
            assert send(s, "after@example.org")[0] == 250
            assert filterd_workers(inst) and worker not in filterd_workers(inst)
        inst.wait_log(r"filterd\[\d+\]: warning: filterd worker %d ended in the middle of a "
                      r"message" % worker)
        inst.wait_log(r"filterd\[\d+\]: warning: \w+: the worker ended without answering "
                      r"the client")
        assert wait_for(lambda: "after@example.org" in delivered(inst) and settled(inst)), \
            inst.log_text()[-3000:]
        assert delivered(inst).count("before@example.org") == 1
        assert delivered(inst).count("after@example.org") == 1
        assert delivered(inst).count("killed@example.org") == 0
    finally:
        relay.stop()


def test_reinject_session_closed_between_messages(mailroom, clamd):
    """The kept 10025 session is closed between messages: the worker sees
    it and opens a new one; the message is accepted once."""
    inst, relay = relayed_instance(mailroom, clamd)
    try:
        with session(inst) as s:
            assert send(s, "c1@example.org")[0] == 250
            relay.cut()
            assert wait_for(lambda: relay.ended == 1)   # both sides closed
            code, text = send(s, "c2@example.org")
            assert code == 250, (code, text, relay.accepted, relay.errors, inst.log_text()[-3000:])
        assert relay.accepted == 2
        assert wait_for(lambda: len(delivered(inst)) == 2 and settled(inst)), \
            inst.log_text()[-3000:]
        assert delivered(inst) == ["c1@example.org", "c2@example.org"]
    finally:
        relay.stop()


def test_reinject_session_gone_at_mail(mailroom, clamd):
    """The kept session breaks only when the worker sends MAIL (nothing
    told it before): nothing was taken, so the transaction goes again on
    a new session, and the message arrives once."""
    inst, relay = relayed_instance(mailroom, clamd)
    try:
        with session(inst) as s:
            assert send(s, "g1@example.org")[0] == 250
            relay.cut_at_next_command()
            code, text = send(s, "g2@example.org")
            assert code == 250, text
        assert relay.accepted == 2
        assert wait_for(lambda: len(delivered(inst)) == 2 and settled(inst)), \
            inst.log_text()[-3000:]
        assert delivered(inst) == ["g1@example.org", "g2@example.org"]
    finally:
        relay.stop()


def test_reinject_session_cache_time(mailroom, clamd):
    """An idle kept session is closed (QUIT) after
    filterd_reinject_cache_time, not before; with 0 every message has its
    own."""
    inst, relay = relayed_instance(mailroom, clamd, filterd_reinject_cache_time="1s")
    try:
        with session(inst) as s:
            start = time.monotonic()
            assert send(s, "t1@example.org")[0] == 250
            assert wait_for(lambda: relay.ended == 1)
            assert relay.ended_at[0] - start >= 1.0, relay.ended_at[0] - start
            code, text = send(s, "t2@example.org")
            assert code == 250, (code, text, relay.accepted, relay.errors)
        assert relay.accepted == 2
        inst.stop()
        inst.set_conf(filterd_reinject_cache_time="0")
        inst.start()
        with session(inst) as s:
            for i in range(3):
                assert send(s, f"z{i}@example.org")[0] == 250
        assert wait_for(lambda: relay.accepted == 5 and relay.ended == 5), (relay.accepted, relay.ended)
    finally:
        relay.stop()


def test_clamd_restart_between_messages(mailroom, clamd):
    """clamd restarted between two messages of a session: the worker asks
    the new clamd (a connection per message), which finds EICAR."""
    inst, relay = relayed_instance(mailroom, clamd)
    try:
        with session(inst) as s:
            assert send(s, "r1@example.org")[0] == 250
            clamd.stop()
            clamd.start()
            code, text = send(s, "r2@example.org", b"here: " + EICAR + b"\r\n")
            assert code == 250
            assert re.match(rb"2\.7\.0 \w+: Quarantined as \w+: Virus found: "
                            + re.escape(SIGNAME.encode()) + rb"$", text), text
            assert send(s, "r3@example.org")[0] == 250
        assert wait_for(lambda: len(delivered(inst)) == 2), inst.log_text()[-3000:]
        assert delivered(inst) == ["r1@example.org", "r3@example.org"]
    finally:
        relay.stop()


def test_filterd_max_use(mailroom, clamd):
    """filterd reads filterd_max_use instead of max_use: with max_use 2
    and filterd_max_use 1000, four clients one after the other are served
    by one filterd process, one worker and one session with 10025; with
    filterd_max_use 2 the third client meets a fresh process (and its
    worker opens a session of its own)."""
    for own, processes in (("1000", 1), ("2", 2)):
        inst, relay = relayed_instance(mailroom, clamd, max_use="2", filterd_max_use=own)
        try:
            for i in range(4):
                with session(inst) as s:
                    assert send(s, f"u{own}-{i}@example.org")[0] == 250
            assert relay.accepted == processes, (own, relay.accepted)
            assert wait_for(lambda: len(delivered(inst)) == 4), inst.log_text()[-3000:]
            assert delivered(inst) == [f"u{own}-{i}@example.org" for i in range(4)]
            pids = set(re.findall(r"filterd\[(\d+)\]: \w+: client=", inst.log_text()))
            assert len(pids) == processes, pids
        finally:
            relay.stop()
