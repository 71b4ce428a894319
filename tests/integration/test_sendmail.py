"""test_sendmail.py - the sendmail command, mailroom-postdrop and mailq.

Messages go the way a local program sends them: sendmail (or bsd-mailx,
which calls sendmail) -> mailroom-postdrop -> maildrop/ -> pickup ->
cleanup -> incoming/. The instances here run without qmgr or delivery
agents (only smtpd, cleanup, tabled, pickup), so a message stays in
incoming/ where the test can read it record by record.
"""
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import time

import pytest

import qrecords
from conftest import BIN, IS_ROOT

KEEP = {"smtpd", "cleanup", "tabled", "pickup"}
LOGIN = pwd.getpwuid(os.getuid()).pw_name
ORIGIN = "mx.mailroom.test"          # myorigin = $myhostname in mkinstance


def need(*progs):
    for p in progs:
        assert os.path.exists(os.path.join(BIN, p)), f"{p} is not built"


def queue_only(inst):
    """Rewrite master.conf to run only what moves mail into incoming/."""
    path = os.path.join(inst.conf_dir, "master.conf")
    out = []
    for line in open(path).read().splitlines():
        f = line.split()
        if not f or f[0].startswith("#") or (len(f) >= 8 and f[7] in KEEP):
            out.append(line)
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


@pytest.fixture
def inst(mailroom):
    need("master", "pickup", "cleanup", "sendmail", "mailroom-postdrop", "mailroom-queue")
    i = mailroom(start=False)
    queue_only(i)
    i.start()
    return i


def poke_pickup(inst):
    # an instance without an SMTP port is not waited for at start: master
    # may not have made public/pickup yet
    path = os.path.join(inst.spool, "public", "pickup")
    deadline = time.time() + 10
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                s.sendall(b"W")
                return
        except (FileNotFoundError, ConnectionRefusedError):
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def sendmail(inst, args, text, **kw):
    data = text.encode() if isinstance(text, str) else text
    return inst.run(["sendmail"] + list(args), input=data, **kw)


def wait_files(inst, queue, count=1, timeout=15.0):
    """Wait for count committed files in a queue; return their paths."""
    start = time.time()
    deadline = start + timeout
    poked = False
    while True:
        found = qrecords.files(inst.spool, queue)
        if queue == "incoming" and not poked and time.time() > start + 5:
            # a lost wake-up only delays mail until pickup's periodic scan
            # (60 s); this stands in for that scan
            poked = True
            try:
                poke_pickup(inst)
            except OSError:
                pass
        if len(found) >= count or time.time() > deadline:
            assert len(found) >= count, \
                f"{queue}: {found}; log tail:\n{inst.log_text()[-2000:]}"
            return found
        time.sleep(0.05)


def only_message(inst, queue="incoming"):
    paths = wait_files(inst, queue)
    assert len(paths) == 1, paths
    recs = read_records(paths[0])
    env = qrecords.envelope(recs)
    env["rcpts"] = [addr for addr, _done in env["rcpts"]]
    return env, qrecords.content(recs), paths[0]


def maildrop_empty(inst, timeout=10.0):
    """Wait until maildrop/ is empty: pickup removes a file once cleanup
    has answered, a moment after the queue file appears."""
    deadline = time.time() + timeout
    while qrecords.files(inst.spool, "maildrop") and time.time() < deadline:
        time.sleep(0.05)
    assert qrecords.files(inst.spool, "maildrop") == []


def read_records(path):
    with open(path, "rb") as f:
        return qrecords.parse(f.read())


def test_mailx_sends_through_sendmail(inst, tmp_path):
    rc = tmp_path / "mailrc"
    rc.write_text(f"set sendmail={BIN}/sendmail\n")
    env = dict(inst.env, MAILRC=str(rc))
    r = subprocess.run(["mail", "-s", "hello there", "alice@mailroom.test"],
                       input=b"body text\n", env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    envl, body, _ = only_message(inst)
    assert envl["sender"] == f"{LOGIN}@{ORIGIN}"
    assert envl["rcpts"] == ["alice@mailroom.test"]
    assert b"\nSubject: hello there\n" in b"\n" + body
    assert body.endswith(b"\n\nbody text\n")
    maildrop_empty(inst)
    q = inst.run(["sendmail", "-bp"])
    assert q.returncode == 0
    assert "alice@mailroom.test" in q.stdout.decode()
    assert q.stdout.decode().rstrip().endswith("in 1 Request.")


def test_t_takes_recipients_and_removes_bcc(inst):
    msg = ("From: Sender <s@example.org>\n"
           "To: Alice <alice@mailroom.test>, bob@mailroom.test\n"
           "Cc: (copy) carol@example.net\n"
           "Bcc: hidden@example.com,\n"
           " also-hidden@example.com\n"
           "Subject: t\n\nhi\n")
    r = sendmail(inst, ["-t", "-f", "s@example.org"], msg)
    assert r.returncode == 0, r.stderr
    envl, body, _ = only_message(inst)
    assert envl["sender"] == "s@example.org"
    assert sorted(envl["rcpts"]) == sorted([
        "alice@mailroom.test", "bob@mailroom.test", "carol@example.net",
        "hidden@example.com", "also-hidden@example.com"])
    assert b"hidden" not in body
    assert b"Bcc" not in body


def test_t_without_recipients_is_refused(inst):
    r = sendmail(inst, ["-t"], "Subject: none\n\nx\n")
    assert r.returncode == 65
    assert b"no recipient" in r.stderr
    assert qrecords.files(inst.spool, "maildrop") == []


def test_f_and_F_and_bare_names(inst):
    r = sendmail(inst, ["-f", "owner", "-F", "Jane Q. Doe", "bob"], "hello\n")
    assert r.returncode == 0, r.stderr
    envl, body, _ = only_message(inst)
    assert envl["sender"] == f"owner@{ORIGIN}"
    assert envl["rcpts"] == [f"bob@{ORIGIN}"]
    # no header in the input: From: is added, then an empty line, then the text
    assert f'From: "Jane Q. Doe" <owner@{ORIGIN}>\n'.encode() in body
    assert body.endswith(b"\n\nhello\n")


def test_lone_dot_ends_input_unless_i(inst):
    r = sendmail(inst, ["alice@mailroom.test"], "Subject: a\n\nbefore\n.\nafter\n")
    assert r.returncode == 0, r.stderr
    _, body, path = only_message(inst)
    assert body.endswith(b"\n\nbefore\n")
    os.unlink(path)
    for flag in ("-i", "-oi"):
        r = sendmail(inst, [flag, "alice@mailroom.test"], "Subject: b\r\n\r\nbefore\r\n.\r\nafter\r\n")
        assert r.returncode == 0, r.stderr
        _, body, path = only_message(inst)
        assert body.endswith(b"\n\nbefore\n.\nafter\n")     # CRLF became LF
        os.unlink(path)


def test_ignored_flags_are_accepted(inst):
    r = sendmail(inst, ["-oem", "-odb", "-odi", "-om", "-U", "-v", "-B", "8BITMIME",
                        "-N", "success,failure", "-R", "hdrs", "-V", "env42",
                        "-O", "DeliveryMode=b", "-o", "A", "/dev/null",
                        "alice@mailroom.test"], "Subject: f\n\nx\n")
    assert r.returncode == 0, r.stderr
    assert b"queued as" in r.stderr                       # -v
    envl, _, _ = only_message(inst)
    assert envl["rcpts"] == ["alice@mailroom.test"]


def test_unknown_flag_is_a_usage_error(inst):
    r = sendmail(inst, ["-Z", "alice@mailroom.test"], "x\n")
    assert r.returncode == 64
    assert b"unknown option -Z" in r.stderr
    assert b"usage:" in r.stderr
    r = sendmail(inst, [], "x\n")
    assert r.returncode == 64
    r = sendmail(inst, ["-N", "sometimes", "a@b"], "x\n")
    assert r.returncode == 64


def test_bs_smtp_conversation(inst):
    dialog = ("EHLO client\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@mailroom.test>\r\n"
              "DATA\r\nSubject: bs\r\n\r\n..dot\r\nline\r\n.\r\nQUIT\r\n")
    r = sendmail(inst, ["-bs"], dialog)
    out = r.stdout.decode()
    assert r.returncode == 0
    assert out.startswith("220 ")
    assert "354 " in out
    assert "250 2.0.0 Ok: queued as " in out
    assert out.rstrip().endswith("221 2.0.0 Bye")
    envl, body, _ = only_message(inst)
    assert envl["sender"] == "s@example.org"
    assert body.endswith(b"\n\n.dot\nline\n")


def test_bs_incomplete_data_is_not_queued(inst):
    r = sendmail(inst, ["-bs"], "HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@mailroom.test>\r\n"
                                "DATA\r\nSubject: cut\r\n\r\npartial\r\n")
    assert "queued as" not in r.stdout.decode()
    time.sleep(0.5)   # give a wrongly committed file time to show up
    assert qrecords.files(inst.spool, "maildrop") == []
    assert qrecords.files(inst.spool, "incoming") == []


def test_mail_waits_in_maildrop_while_down(mailroom):
    need("master", "pickup", "cleanup", "sendmail", "mailroom-postdrop")
    inst = mailroom(start=False)
    queue_only(inst)
    # never started: no queue directories yet, so postdrop cannot write;
    # the caller must be told (EX_TEMPFAIL), not left believing it worked
    r = sendmail(inst, ["alice@mailroom.test"], "Subject: early\n\nx\n")
    assert r.returncode == 75
    assert b"not queued" in r.stderr
    inst.start()
    inst.stop()
    r = sendmail(inst, ["alice@mailroom.test"], "Subject: while down\n\nwaiting\n")
    assert r.returncode == 0, r.stderr
    (drop,) = qrecords.files(inst.spool, "maildrop")
    st = os.stat(drop)
    assert stat.S_IMODE(st.st_mode) == 0o544      # 0444 and the ready bit
    assert st.st_uid == os.getuid()
    recs = read_records(drop)
    assert recs[-1] == (qrecords.END, b"")
    assert qrecords.envelope(recs)["attrs"]["uid"] == str(os.getuid())
    q = inst.run(["sendmail", "-bp"]).stdout.decode()
    assert os.path.basename(drop) in q and "alice@mailroom.test" in q
    inst.start()
    # pickup also scans maildrop/ on its periodic wake-up (60s); a wake-up
    # byte, as the next sendmail would send, saves the test that wait
    poke_pickup(inst)
    envl, body, _ = only_message(inst)
    assert envl["rcpts"] == ["alice@mailroom.test"]
    assert body.endswith(b"\n\nwaiting\n")
    maildrop_empty(inst)
    q = inst.run(["mailq"] if os.path.exists(inst.bin("mailq")) else ["sendmail", "-bp"])
    assert "alice@mailroom.test" in q.stdout.decode()


def test_postdrop_refuses_garbage(inst):
    for data in (b"junk that is no record\n",                   # unknown type
                 b"F\x05a@b.cR\x05c@d.eM\x00L\x02hi",           # no END
                 b"F\x05a@b.cM\x00L\x02hiE\x00",                # no recipient
                 b"F\x05a@b.cR\x05c@d.eM\x00L\x02hiE\x00tail",  # bytes after END
                 b"F\x05a\nb.cR\x05c@d.eM\x00E\x00"):           # LF in sender
        r = inst.run(["mailroom-postdrop"], input=data)
        assert r.returncode == 65, (data, r.stderr)
        assert b"message not queued" in r.stderr
    left = os.listdir(os.path.join(inst.spool, "maildrop"))
    assert left == []                                   # no temp files either


def test_postdrop_drops_forged_attributes(inst):
    data = (b"F\x05a@b.cR\x05c@d.e" + b"A\x0fclient_addr=1.2" + b"A\x05uid=7"
            + b"M\x00L\x02hiE\x00")
    r = inst.run(["mailroom-postdrop"], input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("queue_id=")
    envl, _, _ = only_message(inst)
    assert "client_addr" not in envl["attrs"]
    assert envl["attrs"]["uid"] == str(os.getuid())


def test_postdrop_message_size_limit(mailroom):
    need("master", "pickup", "cleanup", "sendmail", "mailroom-postdrop")
    inst = mailroom(start=False, extra={"message_size_limit": "2000"})
    queue_only(inst)
    inst.start()
    r = sendmail(inst, ["alice@mailroom.test"], "Subject: big\n\n" + "x" * 5000 + "\n")
    assert r.returncode == 65
    assert qrecords.files(inst.spool, "maildrop") == []


@pytest.mark.skipif(not IS_ROOT, reason="needs root to make a setgid copy and switch users")
def test_setgid_postdrop_refuses_foreign_config_dir(inst, tmp_path):
    # a setgid copy run by nobody must not accept a config dir that the
    # default configuration does not list in alternate_config_directories
    d = tmp_path / "bin"
    d.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(d, 0o755)
    pd = d / "mailroom-postdrop"
    shutil.copy(inst.bin("mailroom-postdrop"), pd)
    shutil.chown(pd, "root", "mailroom-drop")
    os.chmod(pd, 0o2755)
    r = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                        str(pd), "-c", inst.conf_dir],
                       input=b"F\x00R\x05c@d.eM\x00E\x00", capture_output=True, timeout=30)
    assert r.returncode == 77, r.stderr
    assert b"alternate_config_directories" in r.stderr
    assert qrecords.files(inst.spool, "maildrop") == []


def test_newaliases_builds_alias_tables(mailroom):
    need("sendmail", "mailroom-map")
    inst = mailroom(start=False)
    aliases = os.path.join(inst.conf_dir, "aliases")
    inst.set_conf(alias_maps=f"cdb:{aliases}, texthash:{aliases}")
    names = ["newaliases"] if os.path.exists(inst.bin("newaliases")) else ["sendmail", "-bi"]
    r = inst.run(names)
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(aliases + ".cdb") > 0
    os.unlink(aliases + ".cdb")
    r = inst.run(["sendmail", "-bi"])
    assert r.returncode == 0, r.stderr
    assert os.path.exists(aliases + ".cdb")


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run a command as another user")
def test_ordinary_user_submits_through_maildrop_group(inst):
    # what the installed setgid helper gets: the user's uid with the
    # mailroom-drop group; maildrop/ (1730) and public/ must let it through
    os.chmod(inst.dir, 0o755)
    os.chmod(inst.conf_dir, 0o755)
    nobody = pwd.getpwnam("nobody").pw_uid
    r = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "mailroom-drop",
                        "--clear-groups", inst.bin("sendmail"), "alice@mailroom.test"],
                       input=b"Subject: from nobody\n\nhi\n", env=inst.env,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    envl, body, _ = only_message(inst)
    assert envl["sender"] == f"nobody@{ORIGIN}"
    assert envl["rcpts"] == ["alice@mailroom.test"]
    inst.wait_log(rf"uid={nobody} from=<nobody@{ORIGIN}>")


def test_v_names_the_maildrop_id_and_the_log_maps_it(inst):
    # the ID sendmail -v prints is the maildrop file's; pickup's log line
    # maps it to the queue ID that mailq shows from then on
    r = sendmail(inst, ["-v", "alice@mailroom.test"], "Subject: v\n\nx\n")
    assert r.returncode == 0, r.stderr
    m = re.search(rb"queued as ([0-9A-Z]{16}) \(maildrop ID; pickup logs the queue ID as", r.stderr)
    assert m, r.stderr
    drop_id = m.group(1).decode()
    _, _, path = only_message(inst)
    qid = os.path.basename(path)
    assert qid != drop_id
    inst.wait_log(rf"{qid}: uid={os.getuid()} from=<{LOGIN}@{ORIGIN}> orig_id={drop_id}$")
    maildrop_empty(inst)
    q = inst.run(["mailroom-queue", "-p"]).stdout.decode()
    assert qid in q and drop_id not in q
