"""test_queue_seal.py - the END record's seal against what a power loss can
leave in a recycled queue file (docs/queue.md, "Seal" and "Recycled queue
files").

Real queue files are made by the real smtpd and cleanup of one instance
(without qmgr, so they stay in incoming/). The test checks cleanup's seal
with a CRC-32C of its own (qrecords.py), then builds the files a power
loss on ext4 without a journal can leave: message X's first block followed
by message Y's later blocks, and X with one of Y's blocks in the middle, X
and Y having the same layout so that each mix parses as a complete
message; and a file with one flipped byte in its body. Each goes into
active/ of a second instance under X's name (as the recycled file's old
name would be found there), and the instance starts: qmgr's restart
recovery reads them, logs a warning, moves them to corrupt/, and nothing
is delivered from them; a file without a seal (written before seals) is
still delivered. Last, a file damaged after qmgr read it is refused by
local, whose reply makes qmgr set it aside.
"""
import os
import re
import smtplib

import qrecords as Q
from test_local import ID, maildir_files
from test_local_e2e import wait_until

FAST_RETRY = {"queue_run_delay": "1s", "minimal_backoff_time": "1s",
              "maximal_backoff_time": "2s"}
RCPT = "alice@mailroom.test"
BLOCK = 4096


def message(tag, lines=300):
    """Same layout for every tag of the same length: ~3 blocks of body."""
    body = "".join(f"line {i:04d} of message {tag}, the same length in every message\r\n"
                   for i in range(lines))
    return (f"From: s@example.org\r\nTo: {RCPT}\r\nSubject: seal {tag}\r\n"
            f"Message-ID: <seal-{tag}@example.org>\r\n"
            f"Date: Sat, 28 Nov 2026 05:00:00 +0000\r\n\r\n{body}")


def send(inst, tag, **kw):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("s@example.org", [RCPT], message(tag, **kw))


def queued(inst, count):
    """{Message-ID tag: (queue ID, bytes)} of the files in incoming/."""
    assert wait_until(lambda: len(Q.files(inst.spool, "incoming")) == count)
    out = {}
    for path in Q.files(inst.spool, "incoming"):
        data = open(path, "rb").read()
        tag = re.search(rb"Message-ID: <seal-([^@]+)@", data).group(1).decode()
        out[tag] = (os.path.basename(path), data)
    return out


def layout(data):
    return [(t, len(v)) for t, v in Q.parse(data)]


def put_active(inst, src, qid, data):
    """data as active/H/qid of inst, owned and marked ready as src was."""
    st = os.stat(src)
    path = Q.hashed_path(inst.spool, "active", qid)
    for d in (os.path.join(inst.spool, "active"), os.path.dirname(path)):
        os.makedirs(d, exist_ok=True)
        os.chown(d, st.st_uid, st.st_gid)
        os.chmod(d, 0o700)
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, st.st_uid, st.st_gid)
    os.chmod(path, 0o700)


def test_cleanup_seals_its_files(mailroom):
    """END carries the file's ID and the CRC-32C of every byte before it,
    the SIZE value as patched included, for a message that fits in the
    output buffer and one that does not (the SIZE patch by pwrite)."""
    inst = mailroom(extra=FAST_RETRY)
    send(inst, "small", lines=2)
    send(inst, "large", lines=3000)
    files = queued(inst, 2)
    for tag in ("small", "large"):
        qid, data = files[tag]
        recs = Q.parse(data)
        assert Q.seal(recs) == (qid, Q.seal_sum(recs)), tag
        assert Q.envelope(recs)["size"] == len(Q.content(recs))
        assert Q.envelope(recs)["attrs"]["queue_id"] == qid


def test_mixed_and_damaged_files_are_set_aside(mailroom):
    src = mailroom(extra=FAST_RETRY)
    for tag in ("X1-aa", "Y1-bb", "X2-cc", "Y2-dd", "Z3-ee", "L4-ff"):
        send(src, tag)
    files = queued(src, 6)
    spath = {tag: Q.hashed_path(src.spool, "incoming", qid) for tag, (qid, _) in files.items()}
    (x1, dx1), (_, dy1) = files["X1-aa"], files["Y1-bb"]
    (x2, dx2), (_, dy2) = files["X2-cc"], files["Y2-dd"]
    z3, dz3 = files["Z3-ee"]
    l4, dl4 = files["L4-ff"]
    assert len(dx1) > 3 * BLOCK and layout(dx1) == layout(dy1) and layout(dx2) == layout(dy2)

    # X's first block, then Y's: without the seal, the same layout parses
    # as X's envelope with Y's body
    mix1 = dx1[:BLOCK] + dy1[BLOCK:]
    assert layout(mix1) == layout(dx1)
    # X with Y's second block in the middle: X's own END
    mix2 = dx2[:BLOCK] + dy2[BLOCK:2 * BLOCK] + dx2[2 * BLOCK:]
    assert layout(mix2) == layout(dx2) and Q.parse(mix2)[-1] == Q.parse(dx2)[-1]
    # one byte of the body changed
    at = dz3.index(b"line 0150 of message Z3-ee") + 5
    flipped = dz3[:at] + b"9" + dz3[at + 1:]
    legacy = Q.unseal(dl4)
    assert Q.seal(Q.parse(legacy)) is None

    inst = mailroom(extra=FAST_RETRY, qmgr=True, start=False)
    put_active(inst, spath["X1-aa"], x1, mix1)
    put_active(inst, spath["X2-cc"], x2, mix2)
    put_active(inst, spath["Z3-ee"], z3, flipped)
    put_active(inst, spath["L4-ff"], l4, legacy)
    inst.start()

    for qid, why in ((x1, "the end record names another queue ID than the file"),
                     (x2, "the content does not match the checksum of its end record"),
                     (z3, "the content does not match the checksum of its end record")):
        inst.wait_log(rf"warning: {qid}: corrupt queue file \({why} at offset \d+\) "
                      r"moved to corrupt", timeout=30)
    inst.wait_log(rf"{l4}: to=<{RCPT}>, relay=local, .*status=sent", timeout=30)
    send(inst, "after")       # a message after them is delivered as usual
    inst.wait_log(rf"{ID}: to=<{RCPT}>, relay=local, .*status=sent(?s:.*){ID}: to=<{RCPT}>, "
                  r"relay=local, .*status=sent", timeout=30)
    assert sorted(os.listdir(os.path.join(inst.spool, "corrupt"))) == sorted([x1, x2, z3])
    box = maildir_files(os.path.join(inst.mail, "mailroom.test", "alice"))
    got = sorted(re.search(rb"Message-ID: <seal-([^@]+)@", open(f, "rb").read()).group(1)
                 for f in box)
    assert got == [b"L4-ff", b"after"]
    for qid in (x1, x2, z3):
        assert not re.search(rf"{qid}: to=", inst.log_text())
    tmp = os.path.join(inst.mail, "mailroom.test", "alice", "tmp")
    assert not os.path.isdir(tmp) or os.listdir(tmp) == []


def test_file_damaged_after_qmgr_read_it(mailroom):
    """The file is fine when qmgr takes it up and damaged before the agent
    opens it: local refuses it (corrupt=1 in its reply, docs/queue.md),
    qmgr moves it to corrupt/ when its deliveries are over instead of
    trying again, and nothing reaches the mailbox. local has one process;
    a command that sleeps keeps it busy while the file is changed."""
    inst = mailroom(extra=FAST_RETRY, qmgr=True, start=False)
    conf = os.path.join(inst.conf_dir, "master.conf")
    lines = open(conf).read().splitlines()
    lines = [re.sub(r"^(local\s+unix\s+\S+\s+\S+\s+\S+\s+\S+\s+)-", r"\g<1>1", ln) for ln in lines]
    open(conf, "w").write("\n".join(lines) + "\n")
    with open(os.path.join(inst.conf_dir, "aliases"), "a") as f:
        f.write("slow: |/bin/sleep 3\n")
    inst.start()
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("s@example.org", ["slow@localhost"], "Subject: slow\r\n\r\nslow\r\n")
    send(inst, "D6-hh")
    qid = inst.wait_log(rf"({ID}): message-id=<seal-D6-hh@example\.org>", timeout=30).group(1)
    inst.wait_log(rf"{qid}: from=<s@example.org>, size=\d+, nrcpt=1 \(queue active\)", timeout=30)
    path = Q.hashed_path(inst.spool, "active", qid)
    data = open(path, "rb").read()
    at = data.index(b"line 0150 of message D6-hh") + 5
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(b"9")
    inst.wait_log(rf"warning: {qid}: corrupt queue file \(a delivery agent found it corrupt\) "
                  r"moved to corrupt", timeout=30)
    assert os.listdir(os.path.join(inst.spool, "corrupt")) == [qid]
    assert re.search(rf"warning: {qid}: corrupt queue file: the content does not match the "
                     r"checksum of its end record", inst.log_text())
    assert not re.search(rf"{qid}: to=<{RCPT}>.*status=sent", inst.log_text())
    assert maildir_files(os.path.join(inst.mail, "mailroom.test", "alice")) == []
    inst.wait_log(r"to=<slow@localhost>, relay=local, .*status=sent", timeout=30)
