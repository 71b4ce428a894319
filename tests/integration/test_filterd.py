"""test_filterd.py - the content filter with a real clamd: mail enters on the
SMTP port, qmgr sends it through the filterd transport to filterd, which
asks clamd and the built-in spam rules and re-injects on the 10025 smtpd;
qmgr then delivers it into the Maildirs. Some tests talk SMTP or LMTP to
filterd's port directly to see its replies.
"""
import io
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import zipfile
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

import mkinstance
from clamdtest import EICAR, SIGNAME, Clamd, FildesRefuser
from conftest import IS_ROOT, free_port

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
ALICE, BOB = "alice@mailroom.test", "bob@mailroom.test"


@pytest.fixture
def clamd():
    d = tempfile.mkdtemp(prefix="mailroom-clamd-", dir="/tmp")
    c = Clamd(d)
    c.start()
    yield c
    c.stop()
    shutil.rmtree(d, ignore_errors=True)


def filter_instance(mailroom, clamd, **extra):
    """An instance with qmgr and the filter loop; retries come quickly."""
    conf = {"filterd_clamd_socket": clamd.sock, "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s", "queue_run_delay": "1s"}
    conf.update(extra)
    return mailroom(qmgr=True, extra=conf,
                    ports={"reinject": free_port(), "filter": free_port()})


def message(mid, body=b"Just some text.\r\n", extra_headers=b""):
    return (b"From: carol@example.org\r\nTo: alice@mailroom.test\r\nSubject: hello\r\n"
            b"Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <" + mid.encode()
            + b">\r\n" + extra_headers + b"\r\n" + body)


def maildir(inst, user):
    new = os.path.join(inst.mail, "mailroom.test", user, "new")
    if not os.path.isdir(new):
        return []
    return sorted(os.path.join(new, f) for f in os.listdir(new))


def wait_for(cond, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def strip_trace(data):
    """The delivered file without what delivery and the re-injection smtpd
    put on top (Return-Path, Delivered-To, Received); the first smtpd's
    Received field stays, below filterd's fields."""
    m = re.match(rb"Return-Path: [^\n]*\nDelivered-To: [^\n]*\n"
                 rb"Received: [^\n]*\n(\t[^\n]*\n)*", data)
    assert m, data[:400]
    return data[m.end():]


def direct(inst):
    return smtplib.SMTP("127.0.0.1", inst.ports["filter"], timeout=60)


def test_clean_mail_byte_identical(mailroom, clamd):
    """Clean mail arrives with our headers on top and nothing else changed;
    X-Spam/X-Virus fields the sender wrote are gone."""
    inst = filter_instance(mailroom, clamd)
    body = (b"line one\r\n..dot-stuffed line\r\n\r\n\tindented\r\n"
            + b"x" * 3000 + b"\r\nlast line\r\n")
    msg = message("clean-1@example.org", body,
                  b"X-Spam-Flag: NO\r\nX-Spam-Status: No,\r\n\tscore=-100\r\n"
                  b"X-Virus-Scanned: yes, trust me\r\n")
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("carol@example.org", [ALICE, BOB], msg)
    assert wait_for(lambda: maildir(inst, "alice") and maildir(inst, "bob")), \
        inst.log_text()[-3000:]
    expected = message("clean-1@example.org", body).replace(b"\r\n", b"\n")
    for user in ("alice", "bob"):
        (path,) = maildir(inst, user)
        data = strip_trace(open(path, "rb").read())
        ours = (rb"X-Virus-Scanned: yes \(clamd\) by Mailroom filterd on mx\.mailroom\.test\n"
                rb"X-Spam-Flag: NO\nX-Spam-Score: 0\.0\nX-Spam-Level:\n"
                rb"X-Spam-Status: No, score=0\.0 tag=5\.0 kill=20\.0 tests=none\n")
        m = re.match(ours + rb"Received: from [^\n]*\n(\t[^\n]*\n)*", data)
        assert m, data[:600]
        assert data[m.end():] == expected
    inst.wait_log(r"filterd\[\d+\]: \w+: client=127\.0\.0\.1, from=<carol@example\.org>, "
                  r"size=\d+, nrcpt=2, virus=clean, spam=0\.0 \(none\)")
    inst.wait_log(r"filterd\[\d+\]: \w+: to=<bob@mailroom\.test>, relay=filterd, dsn=2\.0\.0, "
                  r"status=sent \(250 Ok, passed through 127\.0\.0\.1:\d+: 250 2\.0\.0 Ok: "
                  r"queued as \w+\)")


def zipped(name, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def with_attachment(mid, payload, name):
    m = MIMEMultipart()
    m["From"], m["To"], m["Subject"] = "carol@example.org", ALICE, "see attachment"
    m["Date"], m["Message-ID"] = "Fri, 27 Nov 2026 12:00:00 +0000", f"<{mid}>"
    m.attach(MIMEText("Please open the attachment.\n"))
    m.attach(MIMEApplication(payload, Name=name))   # base64
    return m.as_bytes().replace(b"\n", b"\r\n")


def send_direct(inst, msg):
    """One transaction straight to filterd: the reply to the dot."""
    with direct(inst) as s:
        s.ehlo("qmgr.test")
        s.mail("carol@example.org")
        s.rcpt(ALICE)
        return s.data(msg)


@pytest.mark.parametrize("kind", ["plain", "base64", "zip"])
def test_eicar_quarantined(mailroom, clamd, kind):
    """EICAR in the text, in a base64 attachment, and zipped inside one
    (clamd decodes and unpacks): kept in the quarantine, 250 2.7.0 with the
    signature's name."""
    inst = filter_instance(mailroom, clamd)
    msg = {"plain": lambda: message("v@example.org", b"here: " + EICAR + b"\r\n"),
           "base64": lambda: with_attachment("v@example.org", EICAR, "eicar.com"),
           "zip": lambda: with_attachment("v@example.org", zipped("eicar.com", EICAR),
                                          "eicar.zip")}[kind]()
    code, text = send_direct(inst, msg)
    assert code == 250
    assert re.match(rb"2\.7\.0 \w+: Quarantined as \w+: Virus found: "
                    + re.escape(SIGNAME.encode()) + rb"$", text), text
    inst.wait_log(r"virus=found " + re.escape(SIGNAME))


def test_eicar_rejected(mailroom, clamd):
    """filterd_virus_action = reject: 554 5.7.0 instead."""
    inst = filter_instance(mailroom, clamd, filterd_virus_action="reject")
    code, text = send_direct(inst, message("v@example.org", b"here: " + EICAR + b"\r\n"))
    assert code == 554
    assert re.match(rb"5\.7\.0 \w+: Virus found: " + re.escape(SIGNAME.encode()) + rb"$", text)


def test_gtube_refused_and_tag(mailroom, clamd):
    """GTUBE scores 1000: at the kill level (rejected here); with the kill
    level above that, the message passes tagged."""
    inst = filter_instance(mailroom, clamd, filterd_spam_action="reject")
    code, text = send_direct(inst, message("g@example.org", GTUBE + b"\r\n"))
    assert code == 554
    assert re.match(rb"5\.7\.1 \w+: Spam: score 1000\.0 \(GTUBE\)$", text), text
    inst.stop()
    inst.set_conf(filterd_spam_kill_level="2000")
    inst.start()
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("carol@example.org", [ALICE], message("g2@example.org", GTUBE + b"\r\n"))
    assert wait_for(lambda: maildir(inst, "alice")), inst.log_text()[-3000:]
    data = strip_trace(open(maildir(inst, "alice")[0], "rb").read())
    assert b"\nX-Spam-Flag: YES\nX-Spam-Score: 1000.0\nX-Spam-Level: " + b"*" * 50 + b"\n" in data
    assert b"\nX-Spam-Status: Yes, score=1000.0 tag=5.0 kill=2000.0 tests=GTUBE\n" in data
    assert b"\nSubject: [SPAM] hello\n" in data


def test_clamd_down_defers_then_delivers(mailroom, clamd):
    """clamd stopped: 451 4.7.0 at the filter, the message waits in the
    queue; once clamd is back it is delivered, once."""
    inst = filter_instance(mailroom, clamd)
    clamd.stop()
    code, text = send_direct(inst, message("d0@example.org"))
    assert code == 451 and text.startswith(b"4.7.0 ")
    assert b"Virus scan failed, try again later: " in text
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("carol@example.org", [ALICE], message("d1@example.org"))
    inst.wait_log(r"to=<alice@mailroom\.test>, relay=\S+, .*dsn=4\.7\.0, status=deferred")
    assert maildir(inst, "alice") == []
    clamd.start()
    assert wait_for(lambda: maildir(inst, "alice"), 60), inst.log_text()[-3000:]
    time.sleep(1)
    (path,) = maildir(inst, "alice")
    assert b"Message-ID: <d1@example.org>" in open(path, "rb").read()


def test_pass_unscanned(mailroom, clamd):
    """filterd_pass_unscanned = yes: with clamd down mail passes, and says so."""
    inst = filter_instance(mailroom, clamd, filterd_pass_unscanned="yes")
    clamd.stop()
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("carol@example.org", [ALICE], message("u@example.org"))
    assert wait_for(lambda: maildir(inst, "alice")), inst.log_text()[-3000:]
    data = strip_trace(open(maildir(inst, "alice")[0], "rb").read())
    assert re.match(rb"X-Virus-Scanned: no \(not scanned: cannot connect to clamd [^\n]+\) "
                    rb"by Mailroom filterd "
                    rb"on mx\.mailroom\.test\nX-Spam-Flag: NO\n", data), data[:300]


def test_lmtp_per_recipient(mailroom, clamd):
    """LHLO: one reply per recipient after the dot, each saying where it went."""
    inst = filter_instance(mailroom, clamd)
    with socket.create_connection(("127.0.0.1", inst.ports["filter"]), timeout=30) as s:
        f = s.makefile("rwb")
        assert f.readline().startswith(b"220 ")
        f.write(b"LHLO qmgr.test\r\nMAIL FROM:<carol@example.org> RET=HDRS ENVID=e1\r\n"
                b"RCPT TO:<alice@mailroom.test> NOTIFY=FAILURE ORCPT=rfc822;a@x.example\r\n"
                b"RCPT TO:<bob@mailroom.test>\r\nDATA\r\n")
        f.flush()
        lines = [f.readline() for _ in range(11)]
        assert lines[-1].startswith(b"354 "), lines
        f.write(message("l@example.org") + b".\r\n")
        f.flush()
        r1, r2 = f.readline(), f.readline()
        assert re.match(rb"250 2\.0\.0 \w+: Ok, passed through 127\.0\.0\.1:\d+: 250 ", r1), r1
        assert re.match(rb"250 2\.0\.0 \w+: Ok, passed through", r2), r2
        f.write(b"QUIT\r\n")
        f.flush()
        assert f.readline().startswith(b"221 ")
    assert wait_for(lambda: maildir(inst, "alice") and maildir(inst, "bob"))
    # the envelope went on: 10025's cleanup recorded the ORCPT and NOTIFY
    inst.wait_log(r"to=<alice@mailroom\.test>, orig_to=<a@x\.example>|"
                  r"to=<alice@mailroom\.test>, relay=local")


def test_hostile_input(mailroom, clamd):
    """Over-long lines, garbage, NUL bytes and a hang-up in DATA: clear
    replies, and the filter keeps serving."""
    inst = filter_instance(mailroom, clamd)
    with socket.create_connection(("127.0.0.1", inst.ports["filter"]), timeout=30) as s:
        f = s.makefile("rwb")
        f.readline()
        f.write(b"EHLO " + b"a" * 100000 + b"\r\n")
        f.flush()
        assert f.readline() == b"500 5.5.2 Error: line too long\r\n"
        f.write(b"\x00\xff garbage\r\nMAIL FROM:<carol@example.org>\r\n")
        f.flush()
        assert f.readline() == b"502 5.5.2 Error: command not recognized\r\n"
        assert f.readline() == b"503 5.5.1 Error: send EHLO or LHLO first\r\n"
        f.write(b"EHLO x\r\nMAIL FROM:<carol@example.org>\r\nRCPT TO:<bad address>\r\n"
                b"DATA\r\n")
        f.flush()
        while not f.readline().startswith(b"250 DSN"):
            pass
        assert f.readline() == b"250 2.1.0 Ok\r\n"
        assert f.readline() == b"501 5.1.3 Bad recipient address syntax\r\n"
        assert f.readline() == b"503 5.5.1 Error: need RCPT command\r\n"
        for _ in range(30):
            f.write(b"XYZZY\r\n")
        f.flush()
        # 5 errors so far: the 20th is answered, then the session ends
        replies = [f.readline() for _ in range(17)]
        assert replies == [b"502 5.5.2 Error: command not recognized\r\n"] * 15 + [
            b"421 4.7.0 mx.mailroom.test Error: too many errors\r\n", b""]
    # a hang-up in the middle of DATA
    with socket.create_connection(("127.0.0.1", inst.ports["filter"]), timeout=30) as s:
        f = s.makefile("rwb")
        f.readline()
        f.write(b"EHLO x\r\nMAIL FROM:<carol@example.org>\r\nRCPT TO:<alice@mailroom.test>\r\n"
                b"DATA\r\n")
        f.flush()
        while not f.readline().startswith(b"354"):
            pass
        f.write(b"Subject: cut\r\n\r\n" + b"y" * 200000)
        f.flush()
        f.close()
    inst.wait_log(r"filterd\[\d+\]: \w+: lost connection with 127\.0\.0\.1 in DATA")
    with direct(inst) as s:
        s.sendmail("carol@example.org", [ALICE], message("after@example.org"))
    assert wait_for(lambda: maildir(inst, "alice"))
    (path,) = maildir(inst, "alice")
    assert b"<after@example.org>" in open(path, "rb").read()


def test_spool_file_reused(mailroom, clamd):
    """filterd reuses a finished message's spool file: a short message
    after a long one carrying EICAR at its end is clean, and every message
    arrives exactly as sent (nothing of the one before it)."""
    inst = filter_instance(mailroom, clamd)
    long_body = b"filler line of the long message\r\n" * 1500 + b"here: " + EICAR + b"\r\n"
    sizes = {"short1": 10, "mid": 4000, "short2": 1}  # all below the 64 KiB kept as is
    with direct(inst) as s:
        s.sendmail("carol@example.org", [ALICE], message("long@example.org", long_body))
        for name, n in sizes.items():
            s.sendmail("carol@example.org", [ALICE],
                       message(f"{name}@example.org", b"clean text\r\n" * n))
    with direct(inst) as s:   # a new session takes a pooled file too
        s.sendmail("carol@example.org", [ALICE], message("short3@example.org"))
    inst.wait_log(r"virus=found " + re.escape(SIGNAME))
    assert wait_for(lambda: len(maildir(inst, "alice")) == 4), inst.log_text()[-3000:]
    got = {}
    for path in maildir(inst, "alice"):
        data = strip_trace(open(path, "rb").read())
        mid = re.search(rb"Message-ID: <(\w+)@example\.org>", data).group(1).decode()
        got[mid] = data[data.index(b"\nFrom: carol") + 1:]
    expected = {name: message(f"{name}@example.org", b"clean text\r\n" * n)
                for name, n in sizes.items()}
    expected["short3"] = message("short3@example.org")
    assert got == {k: v.replace(b"\r\n", b"\n") for k, v in expected.items()}
    assert len(re.findall(r"virus=found", inst.log_text())) == 1


def filterd_procs():
    """Every filterd process: {pid: parent pid}"""
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except OSError:
            continue
        if os.path.basename(argv0) == b"filterd":
            procs[int(pid)] = int(fields[1])
    return procs


def filterd_pids(inst):
    """The filterd session processes (children of master)."""
    return [pid for pid, ppid in filterd_procs().items() if ppid == inst.proc.pid]


def test_kill_filterd_under_load(mailroom, clamd):
    """filterd killed with SIGKILL again and again while mail flows: every
    message ends in the Maildir exactly once."""
    inst = filter_instance(mailroom, clamd)
    count = 100
    sent = []

    def send():
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=60) as s:
            for i in range(count):
                s.sendmail("carol@example.org", [ALICE], message(f"k{i}@example.org"))
                sent.append(i)

    t = threading.Thread(target=send)
    t.start()

    def ids():
        found = []
        for path in maildir(inst, "alice"):
            m = re.search(rb"Message-ID: <k(\d+)@example\.org>", open(path, "rb").read())
            found.append(int(m.group(1)))
        return found
    kills = 0
    deadline = time.time() + 180
    while (t.is_alive() or len(ids()) < count) and time.time() < deadline:
        time.sleep(0.05)
        if len(ids()) < count * 9 // 10:   # the last ones get through undisturbed
            for pid in filterd_pids(inst):
                os.kill(pid, signal.SIGKILL)
                kills += 1
    t.join()
    assert len(sent) == count
    assert kills > 0
    print(f"filterd killed {kills} times;",
          len(re.findall(r"relay=127\.0\.0\.1\S+, .*status=deferred", inst.log_text())),
          "deliveries to filterd deferred")
    assert wait_for(lambda: len(ids()) >= count, 60), (sorted(ids()), inst.log_text()[-3000:])
    time.sleep(2)   # anything still coming would be a duplicate
    assert sorted(ids()) == list(range(count))


def quarantine_tool(inst, *args):
    return inst.run(["mailroom-quarantine", "-c", inst.conf_dir, *args])


def test_quarantine_list_show_release_delete(mailroom, clamd):
    """A virus goes to the quarantine (250 2.7.0, nothing delivered); the
    tool lists and shows it with its verdict, release delivers it to the
    original recipients, delete removes it."""
    inst = filter_instance(mailroom, clamd)
    qdir = os.path.join(inst.spool, "quarantine")
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("carol@example.org", [ALICE, BOB],
                   message("q1@example.org", b"here: " + EICAR + b"\r\n"))
        s.sendmail("carol@example.org", [BOB], message("q2@example.org", GTUBE + b"\r\n"))
    m = inst.wait_log(r"to=<bob@mailroom\.test>, relay=filterd, dsn=2\.7\.0, status=quarantined "
                      r"\(250 Quarantined as (\w+): Virus found: " + re.escape(SIGNAME) + r"\)")
    qid = m.group(1)
    inst.wait_log(r"status=quarantined \(250 Quarantined as \w+: Spam: score 1000\.0")
    inst.wait_log(r"to=<bob@mailroom\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*"
                  r"dsn=2\.7\.0, status=sent")
    assert maildir(inst, "alice") == [] and maildir(inst, "bob") == []
    st = os.stat(qdir)
    assert st.st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(qdir, qid)).st_mode & 0o777 == 0o700
    r = quarantine_tool(inst, "list")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert re.search(rf"^{qid}  \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  \d+  <carol@example\.org>  "
                     rf"Virus found: {re.escape(SIGNAME)}\n    <alice@mailroom\.test>\n"
                     rf"    <bob@mailroom\.test>\n", out, re.M), out
    assert re.search(r"^\w+  .*  <carol@example\.org>  Spam: score 1000\.0 \(GTUBE[^\n]*\)\n"
                     r"    <bob@mailroom\.test>\n", out, re.M), out
    r = quarantine_tool(inst, "show", qid)
    assert r.returncode == 0
    assert r.stdout.startswith(f"id: {qid}\nreason: Virus found: {SIGNAME}\n"
                               "sender: <carol@example.org>\n".encode())
    assert EICAR in r.stdout and b"Message-ID: <q1@example.org>" in r.stdout
    r = quarantine_tool(inst, "release", qid)
    assert r.returncode == 0, r.stderr
    assert re.match(rf"{qid}: released to 2 recipients: 250 2\.0\.0 Ok: queued as \w+\n",
                    r.stdout.decode())
    assert wait_for(lambda: maildir(inst, "alice") and maildir(inst, "bob"))
    data = open(maildir(inst, "alice")[0], "rb").read()
    assert EICAR in data and b"<q1@example.org>" in data
    assert not os.path.exists(os.path.join(qdir, qid))
    (other,) = [ln.split()[0] for ln in quarantine_tool(inst, "list").stdout.decode().splitlines()
                if not ln.startswith(" ")]
    assert quarantine_tool(inst, "delete", other).returncode == 0
    assert quarantine_tool(inst, "list").stdout == b""
    r = quarantine_tool(inst, "delete", "../../etc/passwd")
    assert r.returncode == 1 and b"not a queue ID" in r.stderr
    inst.wait_log(rf"mailroom-quarantine\[\d+\]: {qid}: released from quarantine to 2 recipients")


def policy_instance(mailroom, clamd):
    inst = filter_instance(mailroom, clamd)
    path = os.path.join(inst.conf_dir, "filter_policy")
    with open(path, "w") as f:
        f.write("alice@mailroom.test  bypass=yes\n"
                "bob@mailroom.test    tag=2000 kill=3000\n")
    inst.stop()
    inst.set_conf(filterd_policy_maps=f"texthash:{path}")
    inst.start()
    return inst


def test_policy_per_recipient_lmtp(mailroom, clamd):
    """LMTP: one message, two policies: alice bypasses the filter (the
    message arrives exactly as sent), bob's levels keep GTUBE from being
    quarantined or tagged; each recipient has its own reply."""
    inst = policy_instance(mailroom, clamd)
    msg = message("p1@example.org", GTUBE + b"\r\n", b"X-Spam-Flag: NO\r\n")
    with socket.create_connection(("127.0.0.1", inst.ports["filter"]), timeout=30) as s:
        f = s.makefile("rwb")
        f.readline()
        f.write(b"LHLO qmgr.test\r\nMAIL FROM:<carol@example.org>\r\n"
                b"RCPT TO:<alice@mailroom.test>\r\nRCPT TO:<bob@mailroom.test>\r\nDATA\r\n")
        f.flush()
        while not f.readline().startswith(b"354"):
            pass
        f.write(msg + b".\r\n")
        f.flush()
        r1, r2 = f.readline(), f.readline()
        f.close()
    assert r1.startswith(b"250 2.0.0 ") and r2.startswith(b"250 2.0.0 "), (r1, r2)
    assert wait_for(lambda: maildir(inst, "alice") and maildir(inst, "bob"))
    alice = strip_trace(open(maildir(inst, "alice")[0], "rb").read())
    assert alice == msg.replace(b"\r\n", b"\n")
    bob = strip_trace(open(maildir(inst, "bob")[0], "rb").read())
    assert re.match(rb"X-Virus-Scanned: yes \(clamd\) [^\n]*\nX-Spam-Flag: NO\n"
                    rb"X-Spam-Score: 1000\.0\nX-Spam-Level: \*+\nX-Spam-Status: No, "
                    rb"score=1000\.0 tag=2000\.0 kill=3000\.0 tests=GTUBE\n", bob), bob[:400]
    assert b"Subject: hello\n" in bob


def test_policy_split_smtp(mailroom, clamd):
    """SMTP: a recipient whose policy differs from the first one's gets
    452 4.5.3 and comes in a transaction of its own; both arrive."""
    inst = policy_instance(mailroom, clamd)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("carol@example.org", [ALICE, BOB], message("p2@example.org"))
    inst.wait_log(r"to=<bob@mailroom\.test>, relay=127\.0\.0\.1\S+, .*dsn=4\.5\.3, "
                  r"status=deferred .*other content policy")
    assert wait_for(lambda: maildir(inst, "alice") and maildir(inst, "bob"), 60), \
        inst.log_text()[-3000:]
    assert b"X-Virus-Scanned" not in open(maildir(inst, "alice")[0], "rb").read()
    assert b"X-Virus-Scanned: yes" in open(maildir(inst, "bob")[0], "rb").read()


def test_policy_table_broken(mailroom, clamd):
    """A policy value filterd cannot read is a temporary error, logged."""
    inst = filter_instance(mailroom, clamd)
    path = os.path.join(inst.conf_dir, "filter_policy")
    with open(path, "w") as f:
        f.write("alice@mailroom.test  tag=lots\n")
    inst.stop()
    inst.set_conf(filterd_policy_maps=f"texthash:{path}")
    inst.start()
    with direct(inst) as s:
        s.ehlo("x")
        s.mail("carol@example.org")
        code, text = s.rcpt(ALICE)
    assert (code, text) == (451, b"4.3.0 Error: cannot look up the content policy")
    inst.wait_log(r'filterd_policy_maps: alice@mailroom\.test: "tag=lots": bad policy word')


def clamd_finds(clamd, count):
    """clamd's log lines of its finds, once there are count of them"""
    assert wait_for(lambda: len([x for x in clamd.log().splitlines()
                                 if x.endswith(f"{SIGNAME} FOUND")]) >= count, 10), clamd.log()
    return [x for x in clamd.log().splitlines() if x.endswith(f"{SIGNAME} FOUND")]


@pytest.mark.parametrize("way", ["descriptor", "stream", "tcp", "refused"])
def test_clamd_ways(mailroom, way):
    """clamd is handed the spool file's descriptor (FILDES) over its Unix
    socket, sees a stream (INSTREAM) with clamd_pass_descriptor = no or
    over TCP, and when it answers a descriptor with no verdict (a stand-in
    in front of the real clamd: clamdtest.FildesRefuser) the message is
    streamed instead, and every later one, logged once. The verdicts are
    the same every way; clamd's log shows which way the message came."""
    d = tempfile.mkdtemp(prefix="mailroom-clamd-", dir="/tmp")
    clamd = Clamd(d, tcp=way == "tcp")
    refuser = None
    try:
        clamd.start()
        sock = {"descriptor": clamd.sock, "stream": clamd.sock, "tcp": clamd.tcp_addr}.get(way)
        if way == "refused":
            refuser = FildesRefuser(clamd, d)
            sock = refuser.sock
        extra = {"clamd_pass_descriptor": "no"} if way == "stream" else {}
        inst = filter_instance(mailroom, clamd, filterd_clamd_socket=sock, **extra)
        with direct(inst) as s:   # one session: one worker takes every message
            s.ehlo("qmgr.test")
            for i in range(4):
                s.mail("carol@example.org")
                s.rcpt(ALICE)
                code, text = s.data(message(f"w{i}@example.org",
                                            b"here: " + EICAR + b"\r\n" if i % 2 == 0 else b"ok\r\n"))
                assert code == 250, text
                assert (b"Virus found: " + SIGNAME.encode() if i % 2 == 0 else b"passed through") \
                    in text, text
        finds = clamd_finds(clamd, 2)
        want = {"descriptor": re.escape(os.path.join(inst.spool, "quarantine")) + r"/#\d+ \(deleted\)",
                "stream": r"instream\(local\)",
                "tcp": r"instream\(127\.0\.0\.1@\d+\)", "refused": r"instream\(local\)"}[way]
        for line in finds:
            assert re.fullmatch(want + ": " + re.escape(SIGNAME) + " FOUND", line), finds
        if refuser:
            # the worker tried FILDES once
            assert refuser.commands == ["zFILDES"] + ["zINSTREAM"] * 4, refuser.commands
            inst.wait_log(r"filterd\[\d+\]: warning: clamd at " + re.escape(sock)
                          + r" cannot scan a passed file descriptor \(unexpected reply from "
                          r"clamd: UNKNOWN COMMAND\): streaming instead")
            assert inst.log_text().count("cannot scan a passed file descriptor") == 1
    finally:
        if refuser:
            refuser.close()
        clamd.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_instance_clamd(mailroom):
    """An instance with the filter and no clamd named (make run) gets a
    clamd configuration of its own with our two signatures; a clamd started
    on it finds the test string."""
    inst = mailroom(qmgr=True, ports={"reinject": free_port(), "filter": free_port()})
    own = Clamd(os.path.join(inst.dir, "clamd"))
    assert f"filterd_clamd_socket = {own.sock}\n" in \
        open(os.path.join(inst.conf_dir, "mailroom.conf")).read()
    own.start()
    try:
        code, text = send_direct(inst, message("t@example.org",
                                               mkinstance.TEST_SIGNATURE + b"\r\n"))
    finally:
        own.stop()
    assert code == 250
    assert re.match(rb"2\.7\.0 \w+: Quarantined as \w+: Virus found: "
                    rb"Mailroom\.Test\.Signature\.UNOFFICIAL$", text), text


def test_stale_temporary_files_swept(mailroom):
    """Temporary files a killed filterd left in the quarantine directory
    (.tPID.ID, .spool.XXXXXX) are removed when filterd starts and then
    every filterd_temp_file_max_age, each logged; recent ones, quarantined
    messages and other names stay."""
    inst = mailroom(qmgr=True, start=False, extra={"filterd_temp_file_max_age": "2s"},
                    ports={"reinject": free_port(), "filter": free_port()})
    qdir = os.path.join(inst.spool, "quarantine")
    os.makedirs(qdir, mode=0o700, exist_ok=True)   # as master makes it
    if IS_ROOT:
        pw = pwd.getpwnam("mailroom")
        os.chown(qdir, pw.pw_uid, pw.pw_gid)
    old = time.time() - 7200
    names = {".t4242.25XK6SB3CT6CW0ZJ": old, ".spool.Ab12Cd": old,
             ".t4243.25XK6SB3CT6CW0ZK": time.time() + 3600,   # still being written
             "25XK6SB3CT6CW0ZL": old, ".tx": old, ".tmp": old}
    for name, mtime in names.items():
        with open(os.path.join(qdir, name), "wb") as f:
            f.write(b"partial")
        os.utime(os.path.join(qdir, name), (mtime, mtime))
    inst.start()
    with direct(inst) as s:                 # a client: filterd runs
        assert s.ehlo()[0] == 250
        for name in (".t4242.25XK6SB3CT6CW0ZJ", ".spool.Ab12Cd"):
            inst.wait_log(rf"mailroom/filterd\[\d+\]: removed stale temporary file "
                          rf"{re.escape(qdir)}/{re.escape(name)} \(unchanged for 7\d\d\ds\)",
                          timeout=30)
        # one left later is found by the periodic sweep
        late = os.path.join(qdir, ".t4244.25XK6SB3CT6CW0ZM")
        with open(late, "wb") as f:
            f.write(b"partial")
        os.utime(late, (old, old))
        inst.wait_log(rf"removed stale temporary file {re.escape(late)} ", timeout=30)
        assert s.noop()[0] == 250
    assert sorted(os.listdir(qdir)) == [".t4243.25XK6SB3CT6CW0ZK", ".tmp", ".tx",
                                        "25XK6SB3CT6CW0ZL"]


def test_smtputf8_passes_through_the_filter(mailroom, clamd):
    """A sender that declares SMTPUTF8 with a non-ASCII address is accepted
    on the smtp port, goes through filterd (which offers SMTPUTF8) and is
    re-injected with it, so the message arrives with that sender; without
    SMTPUTF8, filterd refuses such an address."""
    inst = filter_instance(mailroom, clamd)
    sender = "jos\u00e9@example.org"
    with direct(inst) as s:
        s.ehlo("client.example.org")
        assert s.has_extn("smtputf8")
        s.command_encoding = "utf-8"  # the raw bytes, without declaring SMTPUTF8
        code, _ = s.mail(sender)
        assert code == 501
        s.rset()
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example.org")
        s.sendmail(sender, [BOB], message("utf8-1@example.org"), mail_options=["SMTPUTF8"])
    assert wait_for(lambda: maildir(inst, "bob")), inst.log_text()[-3000:]
    (path,) = maildir(inst, "bob")
    data = open(path, "rb").read()
    assert data.startswith("Return-Path: <jos\u00e9@example.org>\n".encode()), data[:200]
    assert b"X-Virus-Scanned: yes (clamd)" in data
    assert re.search(rb"Received: from [^\n]*\n(\t[^\n]*\n)*", data)
    inst.wait_log(r"filterd\[\d+\]: \w+: to=<bob@mailroom\.test>, relay=filterd, dsn=2\.0\.0, "
                  r"status=sent")
