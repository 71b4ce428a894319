"""test_queue_tool.py - mailroom-queue: listing and changing the queue.

Messages are put into the queue the normal way (sendmail -> pickup ->
cleanup -> incoming/) on an instance without qmgr, so they stay where the
test puts them.
"""
import json
import os
import pathlib
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

import qrecords
from conftest import BIN, IS_ROOT
from test_sendmail import inst, sendmail, wait_files  # noqa: F401  (fixture)

ID = r"[0-9A-Z]{16}"
DATE = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d"


def queue(inst, *args, **kw):
    return inst.run(["mailroom-queue"] + list(args), **kw)


def settled(inst, count):
    """Wait for count files in incoming/ and for pickup to have removed their
    maildrop/ copies (it does so just after cleanup committed), so that a
    listing sees each message once; returns the incoming paths."""
    paths = wait_files(inst, "incoming", count)
    deadline = time.time() + 15
    while qrecords.files(inst.spool, "maildrop") and time.time() < deadline:
        time.sleep(0.05)
    assert qrecords.files(inst.spool, "maildrop") == []
    return paths


def two_messages(inst):
    for rcpts in (["alice@mailroom.test"], ["bob@mailroom.test", "carol@example.net"]):
        r = sendmail(inst, ["-f", "s@example.org"] + rcpts, "Subject: q\n\nbody\n")
        assert r.returncode == 0, r.stderr
    paths = settled(inst, 2)
    return {os.path.basename(p): p for p in paths}


def test_empty_queue(inst):
    r = queue(inst, "-p")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mail queue is empty\n"
    r = queue(inst, "-j")
    assert r.returncode == 0 and r.stdout == b""


def test_p_layout(inst):
    ids = two_messages(inst)
    r = queue(inst, "-p")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert re.match(r"^-Queue ID- +--Size-- +---Arrival Time---- +-Sender/Recipient-------$",
                    lines[0])
    heads = [ln for ln in lines if re.match(ID, ln)]
    assert len(heads) == 2
    for ln in heads:
        assert re.match(rf"^({ID})  +\d+ {DATE}  s@example\.org$", ln), ln
        assert ln[:16] in ids
    rcpt_lines = [ln.strip() for ln in lines if ln.startswith(" " * 40)]
    assert sorted(rcpt_lines) == ["alice@mailroom.test", "bob@mailroom.test",
                                  "carol@example.net"]
    assert re.match(r"^-- \d+ Kbytes in 2 Requests\.$", lines[-1])


def test_markers_and_defer_reason(inst):
    ids = two_messages(inst)
    # "second" is the message for carol: queue IDs come from reservations
    # made ahead of use, so their order need not be the order of submission
    second = next(i for i, p in ids.items() if b"carol@example.net" in open(p, "rb").read())
    first = next(i for i in ids if i != second)
    # the second message as qmgr leaves it after a failed try: in deferred/
    # with a reason in its defer log
    rel = os.path.relpath(ids[second], os.path.join(inst.spool, "incoming"))
    for q in ("deferred", "defer"):
        os.makedirs(os.path.dirname(os.path.join(inst.spool, q, rel)), exist_ok=True)
    shutil.move(ids[second], os.path.join(inst.spool, "deferred", rel))
    with open(os.path.join(inst.spool, "defer", rel), "w") as f:
        f.write("rcpt=carol@example.net\nreason=connect to mx.example.net: Connection refused\n\n")
    r = queue(inst, "-h", first)
    assert r.returncode == 0, r.stderr
    out = queue(inst, "-p").stdout.decode()
    assert re.search(rf"^{first}!", out, re.M)
    assert re.search(rf"^{second} ", out, re.M)
    assert re.search(r"^ +\(connect to mx\.example\.net: Connection refused\)\n +carol@example\.net$",
                     out, re.M)
    objs = [json.loads(ln) for ln in queue(inst, "-j").stdout.decode().splitlines()]
    by_id = {o["queue_id"]: o for o in objs}
    assert by_id[first]["queue_name"] == "hold"
    assert by_id[second]["queue_name"] == "deferred"
    assert set(by_id[second]) >= {"queue_name", "queue_id", "arrival_time", "message_size",
                                  "sender", "recipients"}
    assert by_id[second]["sender"] == "s@example.org"
    assert isinstance(by_id[second]["arrival_time"], int)
    assert by_id[second]["message_size"] > 0
    rc = {x["address"]: x for x in by_id[second]["recipients"]}
    assert rc["carol@example.net"]["delay_reason"] == \
        "connect to mx.example.net: Connection refused"
    assert "delay_reason" not in rc["bob@mailroom.test"]


def test_active_marker(inst):
    ids = two_messages(inst)
    one = sorted(ids)[0]
    rel = os.path.relpath(ids[one], os.path.join(inst.spool, "incoming"))
    dest = os.path.join(inst.spool, "active", rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.move(ids[one], dest)
    out = queue(inst, "-p").stdout.decode()
    assert re.search(rf"^{one}\*", out, re.M)


def test_hold_release_requeue_delete(inst):
    ids = two_messages(inst)
    a, b = sorted(ids)
    r = queue(inst, "-h", "ALL")
    assert r.returncode == 0, r.stderr
    assert len(qrecords.files(inst.spool, "hold")) == 2
    assert qrecords.files(inst.spool, "incoming") == []
    inst.wait_log(rf"mailroom-queue\[\d+\]: {a}: placed on hold")
    r = queue(inst, "-H", a)
    assert r.returncode == 0, r.stderr
    assert [os.path.basename(p) for p in qrecords.files(inst.spool, "deferred")] == [a]
    inst.wait_log(rf"{a}: released from hold")
    r = queue(inst, "-r", "-", input=f"{a}\n{b}\n".encode())
    assert r.returncode == 0, r.stderr
    assert sorted(os.path.basename(p) for p in qrecords.files(inst.spool, "incoming")) == [a, b]
    assert qrecords.files(inst.spool, "hold") == []
    inst.wait_log(rf"{b}: requeued")
    r = queue(inst, "-d", a)
    assert r.returncode == 0, r.stderr
    assert b"Deleted: 1 message" in r.stderr
    assert [os.path.basename(p) for p in qrecords.files(inst.spool, "incoming")] == [b]
    inst.wait_log(rf"mailroom-queue\[\d+\]: {a}: removed")
    r = queue(inst, "-d", "ALL")
    assert r.returncode == 0
    assert queue(inst, "-p").stdout == b"Mail queue is empty\n"


def test_bad_ids_and_usage(inst):
    r = queue(inst, "-d", "../../etc/passwd")
    assert r.returncode != 0
    assert b"not a queue ID" in r.stderr
    assert queue(inst).returncode == 64
    assert queue(inst, "-p", "-f").returncode == 64


def test_corrupt_file_is_reported(inst):
    ids = two_messages(inst)
    victim = sorted(ids)[0]
    with open(ids[victim], "r+b") as f:
        f.truncate(20)
    r = queue(inst, "-p")
    assert r.returncode == 0
    assert re.search(rf"{victim}: .*corrupt queue file".encode(), r.stderr)
    assert r.stdout.decode().rstrip().endswith("in 1 Request.")


def test_flush_when_down(mailroom):
    i = mailroom(start=False)
    r = i.run(["mailroom-queue", "-f"])
    assert r.returncode == 69
    assert b"mail system is down" in r.stderr
    r = i.run(["sendmail", "-q"])
    assert r.returncode == 69


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run a command as another user")
def test_non_admin_is_refused(inst):
    ids = two_messages(inst)
    for op in ("-d", "-h", "-H", "-r"):
        r = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup",
                            "--clear-groups", inst.bin("mailroom-queue"), op, "ALL"],
                           env=inst.env, capture_output=True, timeout=30)
        assert r.returncode == 77, r.stderr
        assert b"permission denied" in r.stderr
    assert sorted(os.path.basename(p) for p in qrecords.files(inst.spool, "incoming")) \
        == sorted(ids)


# --- listing for ordinary users: the showq service -------------------------
#
# public/ is mode 0710, group mailroom-drop, and the queue directories are
# mail_owner's alone, so an ordinary user lists the queue through the set-gid
# mailroom-queue, which asks showq over public/showq. Two ways of playing
# that user are used below, and they test different things:
#  - AS_USER_WITH_GROUP runs the built (not set-gid) program as nobody with
#    mailroom-drop as its real and effective group: the credentials the
#    installed program has, minus the set-gid bit itself. This covers the
#    socket, the daemon and the listing, as well as mailq and sendmail -bp.
#  - test_setgid_copy_* run a real set-gid copy (root:mailroom-drop 2755, as
#    make install leaves it) as nobody:nogroup. That covers the
#    configuration directory rule and, inside a private mount namespace
#    whose /etc carries a default configuration that lists the instance,
#    the whole installed path: mailq -> set-gid mailroom-queue -> showq.

AS_USER_WITH_GROUP = ["setpriv", "--reuid", "nobody", "--regid", "mailroom-drop",
                      "--clear-groups"]
AS_USER = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
SHOWQ_KEEP = {"smtpd", "cleanup", "tabled", "pickup", "showq"}
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root to play an ordinary user")


@pytest.fixture
def sq(mailroom):
    """An instance that keeps its mail in incoming/ (no qmgr) and runs showq."""
    for p in ("master", "pickup", "cleanup", "sendmail", "mailroom-postdrop",
              "mailroom-queue", "showq"):
        assert os.path.exists(os.path.join(BIN, p)), f"{p} is not built"
    i = mailroom(start=False)
    path = os.path.join(i.conf_dir, "master.conf")
    lines = [ln for ln in open(path).read().splitlines()
             if not ln.split() or ln.startswith("#") or ln.split()[-1] in SHOWQ_KEEP]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(i.dir, 0o755)
    os.chmod(i.conf_dir, 0o755)
    i.start()
    return i


def queue_one_of_each(inst):
    """One message by SMTP, one by sendmail; returns their queue IDs."""
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as c:
        c.sendmail("smtp@example.org", ["alice@mailroom.test"],
                   b"Subject: by smtp\r\n\r\nhello\r\n")
    r = sendmail(inst, ["-f", "local@example.org", "bob@mailroom.test"],
                 "Subject: by sendmail\n\nhello\n")
    assert r.returncode == 0, r.stderr
    return sorted(os.path.basename(p) for p in settled(inst, 2))


def as_user(inst, who, argv, **kw):
    return subprocess.run(who + argv, env=inst.env, capture_output=True, timeout=60, **kw)


@needs_root
def test_ordinary_user_lists_through_showq(sq):
    ids = queue_one_of_each(sq)
    direct_p = queue(sq, "-p")
    direct_j = queue(sq, "-j")
    assert direct_p.returncode == 0 and direct_j.returncode == 0
    r = as_user(sq, AS_USER_WITH_GROUP, [sq.bin("mailroom-queue"), "-p"])
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    # the same code makes both listings: byte for byte the same text
    assert r.stdout == direct_p.stdout
    out = r.stdout.decode()
    for qid in ids:
        assert re.search(rf"^{qid} ", out, re.M)
    assert re.search(r"^ +alice@mailroom\.test$", out, re.M)
    assert re.search(r"^ +bob@mailroom\.test$", out, re.M)
    assert out.endswith("in 2 Requests.\n")
    r = as_user(sq, AS_USER_WITH_GROUP, [sq.bin("mailroom-queue"), "-j"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == direct_j.stdout
    objs = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
    assert sorted(o["queue_id"] for o in objs) == ids
    assert {o["sender"] for o in objs} == {"smtp@example.org", "local@example.org"}
    # mailq and sendmail -bp run mailroom-queue -p from command_directory
    for argv in ([sq.bin("mailq")], [sq.bin("sendmail"), "-bp"]):
        r = as_user(sq, AS_USER_WITH_GROUP, argv)
        assert r.returncode == 0, r.stderr
        assert r.stdout == direct_p.stdout


@needs_root
def test_user_without_the_group_is_told_why(sq):
    queue_one_of_each(sq)
    r = as_user(sq, AS_USER, [sq.bin("mailroom-queue"), "-p"])
    assert r.returncode == 77
    assert r.stdout == b""
    assert re.search(rb"^mailroom-queue: fatal: cannot list the mail queue - connect to "
                     rb".*/public/showq: Permission denied \(mailroom-queue must be "
                     rb"installed setgid mailroom-drop\)$", r.stderr, re.M), r.stderr


@needs_root
def test_mail_system_down(sq):
    ids = queue_one_of_each(sq)
    sq.stop()
    for argv in ([sq.bin("mailroom-queue"), "-p"], [sq.bin("mailroom-queue"), "-j"],
                 [sq.bin("mailq")]):
        r = as_user(sq, AS_USER_WITH_GROUP, argv)
        assert r.returncode == 69, (argv, r.stderr)
        assert r.stdout == b""
        assert re.search(rb"^mailroom-queue: fatal: cannot list the mail queue - "
                         rb"the mail system is down \(connect to .*/public/showq: ",
                         r.stderr, re.M), r.stderr
    # root reads the queue itself, daemons or not
    r = queue(sq, "-p")
    assert r.returncode == 0, r.stderr
    assert all(qid in r.stdout.decode() for qid in ids)


@needs_root
def test_group_gives_no_right_to_change_the_queue(sq):
    ids = queue_one_of_each(sq)
    for op in ("-d", "-h", "-H", "-r"):
        r = as_user(sq, AS_USER_WITH_GROUP, [sq.bin("mailroom-queue"), op, "ALL"])
        assert r.returncode == 77, r.stderr
        assert b"permission denied: only root and mail_owner may change the queue" in r.stderr
    assert sorted(os.path.basename(p) for p in qrecords.files(sq.spool, "incoming")) == ids


def showq_request(inst, request):
    """Talk the showq protocol by hand; returns (handshake, everything after)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(os.path.join(inst.spool, "public", "showq"))
        f = s.makefile("rb")
        hello = f.readline() + f.readline()
        s.sendall(request)
        return hello, f.read()


def test_showq_protocol(sq):
    queue_one_of_each(sq)
    hello, body = showq_request(sq, b"request=list\n\n")
    assert hello == b"protocol=showq\n\n"
    assert body == queue(sq, "-p").stdout
    hello, body = showq_request(sq, b"request=json\n\n")
    assert body == queue(sq, "-j").stdout
    hello, body = showq_request(sq, b"request=delete\nqueue_id=ALL\n\n")
    assert body == b""
    sq.wait_log(r"mailroom/showq\[\d+\]: warning: bad request \"delete\" from a client")
    assert len(qrecords.files(sq.spool, "incoming")) == 2


def plant_fifo(inst, queue, n):
    """A FIFO named like a queue ID in queue, owned as the daemons' own
    files are (mail_owner when root runs the test)."""
    qid = qrecords.fake_qid(n)
    path = qrecords.hashed_path(inst.spool, queue, qid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mkfifo(path, 0o600)
    if IS_ROOT:
        shutil.chown(os.path.dirname(path), "mailroom", "mailroom")
        shutil.chown(path, "mailroom", "mailroom")
    return qid, path


def test_junk_in_hold_is_reported_once(sq):
    """A FIFO (or any corrupt file) in hold/, which no daemon reads, used to
    be warned about by showq at every listing for as long as it sat there:
    the listing now moves it to corrupt/ the first time, logged once; and a
    queue with nothing but such files lists as empty, without the titles."""
    qid, path = plant_fifo(sq, "hold", 4)
    for _ in range(3):
        hello, body = showq_request(sq, b"request=list\n\n")
        assert body == b"Mail queue is empty\n"
    sq.wait_log(rf"mailroom/showq\[\d+\]: warning: {qid}: hold/{qid}: corrupt queue file "
                r"\(.*not a regular file\) moved to corrupt$")
    assert sq.log_text().count(f"{qid}: hold/{qid}: corrupt") == 1
    assert not os.path.exists(path)
    assert os.path.exists(os.path.join(sq.spool, "corrupt", qid))
    # the command reading the queue itself does the same, on its stderr
    qid, path = plant_fifo(sq, "hold", 5)
    r = queue(sq, "-p")
    assert r.returncode == 0 and r.stdout == b"Mail queue is empty\n"
    assert f"{qid}: hold/{qid}: corrupt queue file".encode() in r.stderr
    assert b"moved to corrupt" in r.stderr
    assert queue(sq, "-p").stderr == b""


@pytest.fixture
def user_dir():
    """A folder every user can reach (pytest's tmp_path is root's alone)."""
    d = tempfile.mkdtemp(prefix="mailroom-setgid-", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def setgid_copy(d, names):
    """Copies of our programs in d; mailroom-queue as make install leaves it:
    root:mailroom-drop, mode 2755."""
    for name in names:
        shutil.copy(os.path.join(BIN, name), d / name)
    q = d / "mailroom-queue"
    shutil.chown(q, "root", "mailroom-drop")
    os.chmod(q, 0o2755)
    return d


@needs_root
def test_setgid_copy_refuses_foreign_config_dir(sq, user_dir):
    d = setgid_copy(user_dir, ["mailroom-queue"])
    for argv in ([str(d / "mailroom-queue"), "-p"],
                 [str(d / "mailroom-queue"), "-c", sq.conf_dir, "-j"]):
        r = as_user(sq, AS_USER, argv)
        assert r.returncode == 77, r.stderr
        assert r.stdout == b""
        assert re.search(rb"^mailroom-queue: fatal: configuration directory .*/etc is not "
                         rb"listed in alternate_config_directories of /.*/mailroom\.conf$",
                         r.stderr, re.M), r.stderr


def default_config_dir(inst, d):
    """The compiled-in configuration directory, as the refusal names it."""
    r = as_user(inst, AS_USER, [str(d / "mailroom-queue"), "-p"])
    m = re.search(rb"alternate_config_directories of (/\S+)/mailroom\.conf", r.stderr)
    assert m, r.stderr
    return m.group(1).decode()


def with_private_etc(tmp_path, defdir, conf_text, argv, env):
    """Run argv in a private mount namespace whose /etc is an overlay on the
    real one with defdir/mailroom.conf = conf_text; the real /etc is not
    changed. Returns None if the kernel does not allow it here."""
    up, work = tmp_path / "etc-upper", tmp_path / "etc-work"
    up.mkdir(parents=True)
    work.mkdir(parents=True)
    script = ('mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc '
              '|| exit 111; mkdir -p "$3" && printf "%s\\n" "$4" > "$3/mailroom.conf" '
              '&& shift 4 && exec "$@"')
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                        "sh", str(up), str(work), defdir, conf_text] + argv,
                       env=env, capture_output=True, timeout=60)
    return None if r.returncode == 111 else r


@needs_root
def test_setgid_copy_lists_for_an_ordinary_user(sq, user_dir, tmp_path):
    ids = queue_one_of_each(sq)
    d = setgid_copy(user_dir, ["mailroom-queue", "sendmail"])
    os.symlink("sendmail", d / "mailq")
    defdir = default_config_dir(sq, d)
    if not defdir.startswith("/etc/"):  # environment: a build with another CONFDIR
        pytest.skip(f"default configuration directory {defdir} is not under /etc")
    # mailq finds mailroom-queue in command_directory: the set-gid copy
    sq.set_conf(command_directory=str(d))
    conf = f"alternate_config_directories = {sq.conf_dir}"
    direct = queue(sq, "-p").stdout
    for n, argv in enumerate(([str(d / "mailroom-queue"), "-p"], [str(d / "mailq")],
                              [str(d / "sendmail"), "-bp"])):
        r = with_private_etc(tmp_path / f"ns{n}", defdir, conf, AS_USER + argv, sq.env)
        if r is None:  # environment: a container without mount namespaces
            pytest.skip("no overlay mount in a private namespace here")
        assert r.returncode == 0, (argv, r.stderr)
        assert r.stdout == direct
        assert all(re.search(rf"^{qid} ".encode(), r.stdout, re.M) for qid in ids)
    r = with_private_etc(tmp_path / "delete", defdir, conf,
                         AS_USER + [str(d / "mailroom-queue"), "-d", "ALL"], sq.env)
    assert r.returncode == 77, r.stderr
    assert b"permission denied" in r.stderr
    assert sorted(os.path.basename(p) for p in qrecords.files(sq.spool, "incoming")) == ids
    assert not os.path.exists(os.path.join(defdir, "mailroom.conf")) or \
        conf not in open(os.path.join(defdir, "mailroom.conf")).read()
