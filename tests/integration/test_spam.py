"""test_spam.py - the spam scanner of the content filter and mailroom-learn:
against a real spamd, and with the built-in rules and Bayes.

The spamd fixture starts Debian's spamd offline (--local: no DNS or network
tests), listening on a Unix socket and a loopback port of its own, with a
throwaway home and site configuration in the test's directory (Debian's
rules, Bayes on, auto-learning off, TELL allowed). As root it runs its
children as the mailroom user, as spamd refuses to scan as root. Nothing
here is a mock.

The built-in tests write a mailroom.conf whose data_directory is in the
test's directory; run as root, mailroom-learn becomes mail_owner before it
touches the Bayes databases or the report spool, as in production.
"""
import os
import pwd
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

import qrecords
from conftest import BIN, IS_ROOT, ensure_mail_users, free_port

SPAMD = "/usr/sbin/spamd"
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
CLEAN = (b"Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n"
         b"\tby mail.example.net with ESMTP id 1AB; Fri, 27 Nov 2026 12:00:00 +0000\r\n"
         b"From: Alice Example <alice@example.org>\r\nTo: bob@example.net\r\n"
         b"Subject: minutes of the Thursday meeting\r\n"
         b"Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <m1.2026@example.org>\r\n"
         b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
         b"Hi Bob,\r\n\r\nhere are the notes from Thursday. We agreed to move the release\r\n"
         b"to the second week of December and to review the build scripts first.\r\n\r\n"
         b"Alice\r\n")


def mailroom_uid():
    ensure_mail_users()
    return pwd.getpwnam("mailroom")


def give_to_mailroom(path):
    """As root, the mail owner must own what it writes into."""
    if IS_ROOT:
        pw = mailroom_uid()
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
        os.chown(path, pw.pw_uid, pw.pw_gid)


class Spamd:
    def __init__(self, d, children=2):
        self.dir = d
        self.sock = os.path.join(d, "spamd.sock")
        self.port = free_port()
        self.children = children
        self.proc = None

    def start(self):
        conf = os.path.join(self.dir, "conf")
        home = os.path.join(self.dir, "home")
        os.makedirs(conf)
        os.makedirs(home)
        for name in os.listdir("/etc/spamassassin"):
            if name.endswith(".pre"):
                shutil.copy(os.path.join("/etc/spamassassin", name), conf)
        with open(os.path.join(conf, "local.cf"), "w") as f:
            f.write(f"use_bayes 1\nbayes_auto_learn 0\nbayes_path {home}/bayes\n"
                    "bayes_learn_during_report 1\nbayes_min_spam_num 1\nbayes_min_ham_num 1\n")
        give_to_mailroom(self.dir)
        args = [SPAMD, "--local", "-x", "--allow-tell", "-H", home, "--siteconfigpath", conf,
                "--socketpath", self.sock, "--listen", f"127.0.0.1:{self.port}",
                "-m", str(self.children), "--min-children", "1",
                "-s", os.path.join(self.dir, "spamd.log")]
        if IS_ROOT:
            args += ["-u", "mailroom"]
        env = dict(os.environ, HOME=home)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=env, cwd=self.dir)
        deadline = time.time() + 120
        while not self.pong():
            assert self.proc.poll() is None, "spamd exited: " + self.log()
            assert time.time() < deadline, "spamd does not answer on its socket"
            time.sleep(0.2)

    def pong(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)
                s.connect(self.sock)
                s.sendall(b"PING SPAMC/1.5\r\n\r\n")
                return s.recv(64).startswith(b"SPAMD/1.5 0 PONG")
        except OSError:
            return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "spamd.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_dir():
    d = tempfile.mkdtemp(prefix="mailroom-spam-", dir="/tmp")
    os.chmod(d, 0o755)
    return d


@pytest.fixture(scope="module")
def spamd():
    d = make_dir()
    s = Spamd(d)
    try:
        s.start()
        yield s
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def conf():
    """A configuration directory of its own: data_directory in it, owned
    by the mail owner when root."""
    d = make_dir()
    for sub in ("etc", "data"):
        os.mkdir(os.path.join(d, sub))
    with open(os.path.join(d, "etc/mailroom.conf"), "w") as f:
        f.write(f"data_directory = {d}/data\nmail_owner = mailroom\n"
                f"maillog_file = {d}/learn.log\nspam_bayes_min_learned = 10\n")
    give_to_mailroom(os.path.join(d, "data"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write(d, name, data):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    return path


def scan(args, stdin=None):
    return subprocess.run([os.path.join(BIN, "mailroom-scan"), "-s", *args], input=stdin,
                          capture_output=True, timeout=120)


def learn(args, stdin=None, env=None):
    return subprocess.run([os.path.join(BIN, "mailroom-learn"), *args], input=stdin,
                          capture_output=True, timeout=120, env=env)


def with_conf(conf, *extra):
    """Options for a config dir, plus parameter lines appended to it."""
    if extra:
        with open(os.path.join(conf, "etc/mailroom.conf"), "a") as f:
            f.write("".join(line + "\n" for line in extra))
    return ["-c", os.path.join(conf, "etc")]


# --- spamd ---------------------------------------------------------------

def test_spamd_gtube_and_clean(spamd):
    """GTUBE is spam with spamd's GTUBE rule; a plain letter is ham with a
    low score; both over the Unix socket and over TCP."""
    d = spamd.dir
    bad = write(d, "gtube.eml", CLEAN.replace(b"Alice\r\n", GTUBE + b"\r\n"))
    good = write(d, "clean.eml", CLEAN)
    for address in (spamd.sock, f"unix:{spamd.sock}", f"127.0.0.1:{spamd.port}"):
        r = scan(["-A", address, bad, good])
        lines = r.stdout.decode().splitlines()
        assert len(lines) == 2, r.stdout + r.stderr
        name, verdict, score, scanner, rules = lines[0].split(" ")
        assert (name, verdict, scanner) == (bad + ":", "SPAM", "spamd")
        assert float(score.split("/")[0]) >= 1000 and score.endswith("/5.0")
        assert "GTUBE" in rules.split(",")
        name, verdict, score, scanner, rules = lines[1].split(" ")
        assert (name, verdict, scanner) == (good + ":", "HAM", "spamd")
        assert float(score.split("/")[0]) < 3
        assert "GTUBE" not in rules
        assert r.returncode == 1


def test_spamd_user_and_threshold(spamd, conf):
    """The recipient goes to spamd as User; our threshold decides."""
    good = write(spamd.dir, "clean2.eml", CLEAN)
    r = scan([*with_conf(conf, "spam_threshold = -50"), "-A", spamd.sock, "-u",
              "alice@example.org", good])
    assert r.stdout.decode().startswith(f"{good}: SPAM ")
    assert "/-50.0 spamd " in r.stdout.decode()
    assert r.returncode == 1
    assert "for alice@example.org:" in spamd.log()


def test_spamd_tell(spamd, conf):
    """mailroom-learn with filterd_spamd_address teaches spamd's Bayes by
    TELL: learned once, then nothing to do; as ham it moves."""
    msg = write(spamd.dir, "tell.eml", CLEAN.replace(b"m1.2026", b"tell.2026"))
    opts = with_conf(conf, f"filterd_spamd_address = {spamd.sock}")
    r = learn([*opts, "--spam", msg])
    assert (r.stdout.decode(), r.returncode) == (f"{msg}: spamd: learned as spam\n", 0), r.stderr
    r = learn([*opts, "--spam", msg])
    assert (r.stdout.decode(), r.returncode) == (f"{msg}: spamd: nothing to do\n", 0)
    r = learn([*opts, "--ham", msg])
    assert (r.stdout.decode(), r.returncode) == (f"{msg}: spamd: learned as ham\n", 0)
    r = learn([*opts, "--forget", msg])
    assert (r.stdout.decode(), r.returncode) == (f"{msg}: spamd: forgotten\n", 0)
    assert "Tell: Setting local" in spamd.log()


def test_spamd_too_long_and_down(conf):
    """Above spamd_max_size a message is not sent (UNSCANNED); a spamd that
    is not there is an error with the reason, never ham."""
    d = make_dir()
    try:
        big = write(d, "big.eml", CLEAN + b"x" * 2000 + b"\r\n")
        sock = os.path.join(d, "none.sock")
        r = scan([*with_conf(conf, "spamd_max_size = 1k"), "-A", sock, big])
        assert r.stdout.decode() == f"{big}: UNSCANNED message larger than 1024 bytes, not scanned\n"
        assert r.returncode == 2
        good = write(d, "clean.eml", CLEAN)
        r = scan([*with_conf(conf), "-A", sock, good])
        assert r.stdout.decode().startswith(f"{good}: ERROR cannot connect to spamd at {sock}: ")
        assert r.returncode == 2
        port = free_port()
        r = scan(["-A", f"127.0.0.1:{port}", good])
        assert r.stdout.decode().startswith(f"{good}: ERROR cannot connect to spamd at 127.0.0.1:")
        r = learn([*with_conf(conf, f"filterd_spamd_address = {sock}"), "--spam", good])
        assert r.stdout.decode().startswith(f"{good}: ERROR cannot connect to spamd")
        assert r.returncode == 1
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_spamd_hangs_up():
    """A server that answers garbage or closes at once is an error."""
    d = make_dir()
    try:
        good = write(d, "clean.eml", CLEAN)
        for reply in (b"", b"SPAMD/1.1 0 EX_OK\r\n", b"SPAMD/1.0 76 Bad header line: (x)\r\n",
                      b"HTTP/1.0 200 OK\r\n\r\n"):
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            port = srv.getsockname()[1]
            proc = subprocess.Popen([os.path.join(BIN, "mailroom-scan"), "-s", "-A",
                                     f"127.0.0.1:{port}", good], stdout=subprocess.PIPE)
            conn, _ = srv.accept()
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(CLEAN):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"SYMBOLS SPAMC/1.5\r\nContent-length: %d\r\n" % len(CLEAN))
            conn.sendall(reply)
            conn.close()
            srv.close()
            out, _ = proc.communicate(timeout=30)
            assert out.decode().startswith(f"{good}: ERROR "), out
            assert proc.returncode == 2
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- built-in rules and Bayes -----------------------------------------------

def test_builtin_rules(conf):
    d = os.path.join(conf, "msgs")
    os.mkdir(d)
    gtube = write(d, "gtube.eml", CLEAN.replace(b"Alice\r\n", GTUBE + b"\r\n"))
    good = write(d, "clean.eml", CLEAN)
    phish = write(d, "phish.eml", CLEAN.replace(
        b"From: Alice Example <alice@example.org>",
        b"From: \"service@bank.example\" <x@evil.example>").replace(
        b"\tby mail.example.net", b"\tvia mail.example.net"))
    r = scan([*with_conf(conf), gtube, good, phish])
    assert r.stdout.decode() == (f"{gtube}: SPAM 1000.0/5.0 builtin GTUBE\n"
                                 f"{good}: HAM 0.0/5.0 builtin -\n"
                                 f"{phish}: HAM 3.5/5.0 builtin FROM_DISPLAY_ADDR,"
                                 "FORGED_RECEIVED\n")
    assert r.returncode == 1


SPAM_WORDS = ("viagra cheap pills offer winner lottery claim prize money casino bitcoin "
              "investment urgent click discount pharmacy loan credit guaranteed").split()
HAM_WORDS = ("meeting project schedule report review lunch tomorrow agenda budget draft "
             "team release patch build deploy notes minutes quarterly kernel").split()
COMMON = "the and you your this that with have will from about please thanks hello".split()


def corpus_message(rng, spam, n):
    own, other = (SPAM_WORDS, HAM_WORDS) if spam else (HAM_WORDS, SPAM_WORDS)
    words = []
    for _ in range(rng.randrange(30, 70)):
        r = rng.random()
        words.append(rng.choice(own if r < 0.5 else COMMON if r < 0.9 else other))
    body = "\r\n".join(" ".join(words[i:i + 12]) for i in range(0, len(words), 12))
    sender = "promo@deals.example" if spam else "colleague@example.org"
    return (f"From: {sender}\r\nTo: user@example.org\r\n"
            f"Subject: {rng.choice(own)} {rng.choice(own)}\r\n"
            f"Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <{n}.{spam}@x>\r\n\r\n"
            f"{body}\r\n").encode()


def test_bayes_learn_and_separate(conf):
    """mailroom-learn trains the Bayes database from files; the built-in
    scorer then puts unseen spam and ham of the same kind on their sides."""
    rng = random.Random(7)
    d = os.path.join(conf, "corpus")
    os.mkdir(d)
    spam = [write(d, f"s{i}.eml", corpus_message(rng, 1, i)) for i in range(30)]
    ham = [write(d, f"h{i}.eml", corpus_message(rng, 0, i)) for i in range(30)]
    opts = with_conf(conf)
    r = learn([*opts, "--spam", *spam])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.decode().count(": learned as spam\n") == 30
    r = learn([*opts, "--ham", *ham])
    assert r.stdout.decode().count(": learned as ham\n") == 30
    r = learn([*opts, "--ham", ham[0]])
    assert r.stdout.decode() == f"{ham[0]}: nothing to do\n"
    db = os.path.join(conf, "data/bayes/global.db")
    assert os.path.exists(db)
    if IS_ROOT:
        assert os.stat(db).st_uid == mailroom_uid().pw_uid
    tests = [write(d, f"t{i}.eml", corpus_message(rng, i % 2, 100 + i)) for i in range(20)]
    r = scan([*opts, *tests])
    print(r.stdout.decode())
    for i, line in enumerate(r.stdout.decode().splitlines()):
        name, verdict, score, scanner, rules = line.split(" ")
        assert name == tests[i] + ":"
        if i % 2:
            assert rules in ("BAYES_99", "BAYES_95", "BAYES_80"), line
        else:
            assert rules in ("BAYES_00", "BAYES_05", "BAYES_20"), line
            assert verdict == "HAM" and score.startswith("-")
    # learning from standard input (a pipe) works too
    r = learn([*opts, "--spam"], stdin=corpus_message(rng, 1, 999))
    assert (r.stdout.decode(), r.returncode) == ("-: learned as spam\n", 0)


def test_bayes_per_user(conf):
    opts = with_conf(conf, "spam_bayes_per_user = yes")
    msg = write(conf, "m.eml", CLEAN)
    r = learn([*opts, "--user", "alice@example.org", "--spam", msg])
    assert r.stdout.decode() == f"{msg}: learned as spam\n"
    assert os.path.exists(os.path.join(conf, "data/bayes/user/alice@example.org.db"))
    r = learn([*opts, "--user", "../../etc/x", "--spam", msg])
    assert r.stdout.decode() == f"{msg}: ERROR unusable user name for a Bayes database\n"
    assert r.returncode == 1


def spool_files(conf, sub):
    p = os.path.join(conf, "data/spam-reports", sub)
    return sorted(os.listdir(p)) if os.path.isdir(p) else []


def test_report_spool(conf):
    """--report spools, --spool learns and empties the spool; a file that
    is no report goes to bad/."""
    opts = with_conf(conf, "spam_bayes_per_user = yes")
    msg = write(conf, "m.eml", CLEAN)
    r = learn([*opts, "--report", "--spam", "--user", "bob@example.org", msg])
    assert (r.stdout.decode(), r.returncode) == (f"{msg}: reported\n", 0), r.stderr
    r = learn([*opts, "--report", "--ham"], stdin=CLEAN.replace(b"m1.2026", b"m2"))
    assert (r.stdout.decode(), r.returncode) == ("-: reported\n", 0)
    names = spool_files(conf, "new")
    assert len(names) == 2 and spool_files(conf, "tmp") == []
    with open(os.path.join(conf, "data/spam-reports/new", names[0]), "rb") as f:
        data = f.read()
    first = data.startswith(b"mailroom-spam-report 1\nuser=bob@example.org\nverdict=spam\n\n")
    assert first or data == b"mailroom-spam-report 1\nverdict=ham\n\n" + CLEAN.replace(
        b"m1.2026", b"m2")
    bad = write(os.path.join(conf, "data/spam-reports/new"), "zz-not-a-report", b"hello\n")
    give_to_mailroom(bad)
    r = learn([*opts, "--spool"])
    assert r.stdout.decode() == "learned 2, failed 0, bad 1\n"
    assert r.returncode == 1
    assert spool_files(conf, "new") == []
    assert spool_files(conf, "bad") == ["zz-not-a-report"]
    assert os.path.exists(os.path.join(conf, "data/bayes/user/bob@example.org.db"))
    assert os.path.exists(os.path.join(conf, "data/bayes/global.db"))
    with open(os.path.join(conf, "learn.log")) as f:
        log = f.read()
    assert "user=bob@example.org verdict=spam: learned as spam" in log
    assert "zz-not-a-report: not a report; moved to bad/" in log
    r = learn([*opts, "--spool"])
    assert (r.stdout.decode(), r.returncode) == ("learned 0, failed 0, bad 0\n", 0)


def test_report_from_extension(conf):
    """What the spam-report+USER address runs: the user from EXTENSION and
    DOMAIN of the command delivery."""
    opts = with_conf(conf)
    env = dict(os.environ, EXTENSION="carol", DOMAIN="example.org")
    r = learn([*opts, "--report", "--spam", "--user-from-extension"], stdin=CLEAN, env=env)
    assert (r.stdout.decode(), r.returncode) == ("-: reported\n", 0)
    names = spool_files(conf, "new")
    with open(os.path.join(conf, "data/spam-reports/new", names[0]), "rb") as f:
        assert f.read().startswith(b"mailroom-spam-report 1\nuser=carol@example.org\n")
    env = dict(os.environ, EXTENSION="", DOMAIN="example.org")
    r = learn([*opts, "--report", "--spam", "--user-from-extension"], stdin=CLEAN, env=env)
    assert r.returncode == 2
    assert b"no EXTENSION" in r.stderr


def test_learn_usage():
    for args in ([], ["--spam", "--spool"], ["--forget", "--spam"], ["--report", "--forget"]):
        r = learn(args)
        assert r.returncode == 2
        assert r.stderr.startswith(b"usage: mailroom-learn")


def forwarded(inner):
    """A message that carries inner as an attachment, as mail clients
    forward."""
    return (b"From: Alice <alice@example.org>\r\nTo: spam-report@example.org\r\n"
            b"Subject: Fwd: junk\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"fw1\"\r\n\r\n"
            b"--fw1\r\nContent-Type: text/plain\r\n\r\nthis one is spam\r\n"
            b"--fw1\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--fw1--\r\n")


def test_report_unwrap(conf):
    """--unwrap spools the attached message, not the wrapper; a message
    without one is spooled as it is, and said so."""
    opts = with_conf(conf)
    inner = CLEAN.replace(b"m1.2026", b"inner")
    r = learn([*opts, "--report", "--spam", "--unwrap", "--user", "a@example.org"],
              stdin=forwarded(inner))
    assert (r.stdout.decode(), r.returncode) == ("-: reported\n", 0)
    names = spool_files(conf, "new")
    with open(os.path.join(conf, "data/spam-reports/new", names[0]), "rb") as f:
        assert f.read() == (b"mailroom-spam-report 1\nuser=a@example.org\nverdict=spam\n\n"
                            + inner)
    r = learn([*opts, "--report", "--ham", "--unwrap"], stdin=CLEAN)
    assert r.stdout.decode() == "-: no attached message; reporting it as it is\n-: reported\n"
    r = learn([*opts, "--ham", "--unwrap"], stdin=CLEAN)
    assert r.returncode == 2


def test_report_address_end_to_end(mailroom):
    """The report address of a POP3-only user, as docs/spam.md sets it up:
    mail to spam-report+alice@localhost goes through smtpd, qmgr and local
    to the command of an :include: file owned by the mail owner, which
    spools the attached message for alice@localhost."""
    inst = mailroom(qmgr=True, start=False, extra={
        "queue_run_delay": "1s", "allow_mail_to_commands": "alias, forward, include"})
    reports = os.path.join(inst.dir, "reports")
    os.mkdir(reports)
    inc = os.path.join(inst.conf_dir, "spam-report.include")
    with open(inc, "w") as f:
        f.write(f'"|{BIN}/mailroom-learn -c {inst.conf_dir} --report --spam'
                ' --user-from-extension --unwrap"\n')
    give_to_mailroom(reports)
    give_to_mailroom(inc)
    inst.set_conf(spam_report_directory=reports)
    with open(os.path.join(inst.conf_dir, "aliases"), "a") as f:
        f.write(f"spam-report: :include:{inc}\n")
    inst.start()
    inner = CLEAN.replace(b"m1.2026", b"e2e")
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        s.sendmail("alice@mailroom.test", ["spam-report+alice@localhost"], forwarded(inner))
    inst.wait_log(r"to=<spam-report\+alice@localhost>, relay=local, .*status=sent "
                  r"\(delivered to command\)", timeout=60)
    names = os.listdir(os.path.join(reports, "new"))
    assert len(names) == 1
    with open(os.path.join(reports, "new", names[0]), "rb") as f:
        assert f.read() == (b"mailroom-spam-report 1\nuser=alice@localhost\nverdict=spam\n\n"
                            + inner.replace(b"\r\n", b"\n"))
    if IS_ROOT:
        assert os.stat(os.path.join(reports, "new", names[0])).st_uid == mailroom_uid().pw_uid


# --- through filterd ---------------------------------------------------------

@pytest.fixture
def clamd():
    from clamdtest import Clamd
    d = make_dir()
    c = Clamd(d)
    c.start()
    yield c
    c.stop()
    shutil.rmtree(d, ignore_errors=True)


def filtered(mailroom, clamd, user, msg, **extra):
    """Send msg through an instance with the filter loop; the delivered
    file of user."""
    from test_filterd import filter_instance, maildir, wait_for
    inst = filter_instance(mailroom, clamd, **extra)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=60) as s:
        s.sendmail("carol@example.org", [f"{user}@mailroom.test"], msg)
    assert wait_for(lambda: maildir(inst, user), timeout=120), inst.log_text()[-3000:]
    with open(maildir(inst, user)[0], "rb") as f:
        return inst, f.read()


def test_filterd_with_spamd(mailroom, clamd, spamd):
    """filterd_spamd_address set: filterd's spam scanner is spamd; GTUBE is
    tagged with spamd's rule names."""
    msg = CLEAN.replace(b"Alice\r\n", GTUBE + b"\r\n").replace(b"bob@example.net",
                                                              b"alice@mailroom.test")
    inst, data = filtered(mailroom, clamd, "alice", msg, filterd_spamd_address=spamd.sock,
                          filterd_spam_kill_level="5000")
    assert b"\nX-Spam-Flag: YES\n" in data, data[:800]
    status = re.search(rb"\nX-Spam-Status: Yes, score=(\d+)\.\d tag=5\.0 kill=5000\.0 "
                       rb"tests=([^\n]*(\n\t[^\n]*)*)", data)
    assert status and int(status.group(1)) >= 1000, data[:800]
    assert b"GTUBE" in status.group(2)
    assert "filterd" in spamd.log() or "checking message" in spamd.log()


def test_filterd_spamd_down_is_logged(mailroom, clamd):
    """spamd not there: the spam scan fails with its reason in the log and
    the message carries no spam verdict (never a score of 0 by accident)."""
    d = make_dir()
    try:
        sock = os.path.join(d, "none.sock")
        inst, data = filtered(mailroom, clamd, "bob", CLEAN.replace(b"bob@example.net",
                                                                    b"bob@mailroom.test"),
                              filterd_spamd_address=sock)
        assert b"X-Spam-Score" not in data and b"X-Spam-Flag" not in data, data[:600]
        inst.wait_log(r"spam scan failed: spamd: cannot connect to spamd at " + re.escape(sock))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def bayes_instance(mailroom, clamd, **extra):
    """A filter instance, stopped, with a Bayes directory of its own and a
    directory for the messages to learn (returned with it)."""
    from test_filterd import filter_instance
    inst = filter_instance(mailroom, clamd, **extra)
    inst.stop()
    bayes = os.path.join(inst.dir, "bayes")
    os.mkdir(bayes)
    give_to_mailroom(bayes)
    inst.set_conf(spam_bayes_directory=bayes)
    d = os.path.join(inst.dir, "corpus")
    os.mkdir(d)
    os.chmod(d, 0o755)
    return inst, d


def test_filterd_with_bayes(mailroom, clamd):
    """The built-in scorer in filterd uses the Bayes database that
    mailroom-learn trained."""
    from test_filterd import maildir, wait_for
    inst, d = bayes_instance(mailroom, clamd, spam_bayes_min_learned="10")
    rng = random.Random(11)
    spam = [write(d, f"s{i}.eml", corpus_message(rng, 1, i)) for i in range(20)]
    ham = [write(d, f"h{i}.eml", corpus_message(rng, 0, i)) for i in range(20)]
    opts = ["-c", inst.conf_dir]
    assert learn([*opts, "--spam", *spam]).returncode == 0
    r = learn([*opts, "--ham", *ham])
    assert r.returncode == 0, r.stdout + r.stderr
    inst.start()
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=60) as s:
        s.sendmail("carol@example.org", ["alice@mailroom.test"], corpus_message(rng, 1, 500))
        s.sendmail("carol@example.org", ["bob@mailroom.test"], corpus_message(rng, 0, 501))
    assert wait_for(lambda: maildir(inst, "alice") and maildir(inst, "bob"), timeout=120)
    alice = open(maildir(inst, "alice")[0], "rb").read()
    bob = open(maildir(inst, "bob")[0], "rb").read()
    assert re.search(rb"\nX-Spam-Status: No, score=[23]\.[05] .*tests=BAYES_(80|95|99)\n", alice), \
        alice[:800]
    assert re.search(rb"\nX-Spam-Status: No, score=-\d\.\d .*tests=BAYES_(00|05|20)\n", bob), \
        bob[:800]


# --- scores per recipient ------------------------------------------------------

def two_users_message(mid):
    return CLEAN.replace(b"To: bob@example.net", b"To: alice@mailroom.test, bob@mailroom.test") \
        .replace(b"m1.2026@example.org", mid.encode())


def per_user_instance(mailroom, clamd, **extra):
    """A filter instance with a Bayes database per recipient: alice learned
    the test letter as spam, bob as ham (each with a few messages of the
    other class, so that both databases vote)."""
    inst, d = bayes_instance(mailroom, clamd, spam_bayes_per_user="yes",
                             spam_bayes_min_learned="1", **extra)
    rng = random.Random(5)
    letter = write(d, "letter.eml", two_users_message("learned@example.org"))
    spam = [write(d, f"s{i}.eml", corpus_message(rng, 1, i)) for i in range(3)]
    ham = [write(d, f"h{i}.eml", corpus_message(rng, 0, i)) for i in range(3)]
    opts = ["-c", inst.conf_dir]
    for user, letter_class, others_class, others in (("alice", "--spam", "--ham", ham),
                                                     ("bob", "--ham", "--spam", spam)):
        for args in ([letter_class, letter], [others_class, *others]):
            r = learn([*opts, "--user", f"{user}@mailroom.test", *args])
            assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(os.listdir(os.path.join(inst.dir, "bayes", "user"))) == [
        "alice@mailroom.test.db", "alice@mailroom.test.db.lock",
        "bob@mailroom.test.db", "bob@mailroom.test.db.lock"]
    inst.start()
    return inst


OURS = (rb"X-Virus-Scanned: yes \(clamd\) by Mailroom filterd on mx\.mailroom\.test\n")


def test_filterd_bayes_per_user_tag(mailroom, clamd):
    """spam_bayes_per_user: one message to alice and bob, scored once by the
    rules and by each one's Bayes database: alice's copy is tagged, bob's
    is clean, each with its own fields, in a re-injection of its own; the
    log says each recipient's score."""
    from test_filterd import maildir, strip_trace, wait_for
    inst = per_user_instance(mailroom, clamd, filterd_spam_tag_level="3.0")
    msg = two_users_message("tag@example.org")
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=60) as s:
        s.sendmail("carol@example.org", ["alice@mailroom.test", "bob@mailroom.test"], msg)
    assert wait_for(lambda: maildir(inst, "alice") and maildir(inst, "bob"), timeout=120), \
        inst.log_text()[-3000:]
    body = msg.replace(b"\r\n", b"\n")
    expect = {
        "alice": (OURS + rb"X-Spam-Flag: YES\nX-Spam-Score: 3\.0\nX-Spam-Level: \*\*\*\n"
                  rb"X-Spam-Status: Yes, score=3\.0 tag=3\.0 kill=20\.0 tests=BAYES_95\n",
                  body.replace(b"Subject: minutes", b"Subject: [SPAM] minutes")),
        "bob": (OURS + rb"X-Spam-Flag: NO\nX-Spam-Score: -0\.5\nX-Spam-Level:\n"
                rb"X-Spam-Status: No, score=-0\.5 tag=3\.0 kill=20\.0 tests=BAYES_05\n", body),
    }
    for user, (fields, rest) in expect.items():
        data = strip_trace(open(maildir(inst, user)[0], "rb").read())
        m = re.match(fields + rb"Received: from [^\n]*\n(\t[^\n]*\n)*", data)
        assert m, (user, data[:700])
        assert data[m.end():] == rest, user
    inst.wait_log(r"filterd\[\d+\]: (\w+): client=127\.0\.0\.1, from=<carol@example\.org>, "
                  r"size=\d+, nrcpt=2, virus=clean, spam=per recipient$")
    ids = []
    for user, score in (("alice", r"3\.0 \(BAYES_95\)"), ("bob", r"-0\.5 \(BAYES_05\)")):
        m = inst.wait_log(rf"filterd\[\d+\]: \w+: to=<{user}@mailroom\.test>, relay=filterd, "
                          r"dsn=2\.0\.0, status=sent \(250 Ok, passed through 127\.0\.0\.1:\d+: "
                          rf"250 2\.0\.0 Ok: queued as (\w+)\), spam={score}$")
        ids.append(m.group(1))
    assert ids[0] != ids[1]


def lmtp_send(inst, msg, rcpts, hello=b"LHLO"):
    """One transaction straight to filterd; the replies after the dot."""
    with socket.create_connection(("127.0.0.1", inst.ports["filter"]), timeout=60) as s:
        f = s.makefile("rwb")
        f.readline()
        f.write(hello + b" qmgr.test\r\nMAIL FROM:<carol@example.org>\r\n"
                + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
        f.flush()
        while not f.readline().startswith(b"354"):
            pass
        f.write(msg + b".\r\n")
        f.flush()
        replies = [f.readline() for _ in (rcpts if hello == b"LHLO" else [0])]
        f.write(b"QUIT\r\n")
        f.flush()
        return replies


def test_filterd_bayes_per_user_quarantine_reject(mailroom, clamd):
    """At the kill level for alice only: alice's copy is quarantined and
    bob gets the message clean; with spam=reject, LMTP refuses alice alone
    (554 5.7.1) and delivers bob; SMTP, whose one reply speaks for both,
    quarantines alice's copy instead of refusing it."""
    from test_filterd import maildir, strip_trace, wait_for
    inst = per_user_instance(mailroom, clamd, filterd_spam_kill_level="3.0")
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=60) as s:
        s.sendmail("carol@example.org", ["alice@mailroom.test", "bob@mailroom.test"],
                   two_users_message("kill@example.org"))
    assert wait_for(lambda: maildir(inst, "bob"), timeout=120), inst.log_text()[-3000:]
    for user in ("alice", "bob"):   # the filter transport's line: neither "quarantined" nor "sent"
        inst.wait_log(rf"smtp\[\d+\]: \w+: to=<{user}@mailroom\.test>, relay=127\.0\.0\.1\S*, .*"
                      r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 \w+: Ok: 1 delivered, 1 quarantined\)")
    inst.wait_log(r"to=<alice@mailroom\.test>, relay=filterd, dsn=2\.7\.0, status=quarantined "
                  r"\(250 Quarantined as \w+: Spam: score 3\.0 \(BAYES_95\)\), "
                  r"spam=3\.0 \(BAYES_95\)$")
    bob = strip_trace(open(maildir(inst, "bob")[0], "rb").read())
    assert re.match(OURS + rb"X-Spam-Flag: NO\nX-Spam-Score: -0\.5\nX-Spam-Level:\n"
                    rb"X-Spam-Status: No, score=-0\.5 tag=5\.0 kill=3\.0 tests=BAYES_05\n", bob)
    assert maildir(inst, "alice") == []
    r = quarantine_list(inst)
    assert len(r) == 1 and r[0].endswith("Spam: score 3.0 (BAYES_95)\n    <alice@mailroom.test>"), r
    # out of the queue before the restart, else bob's copy may come twice
    assert wait_for(lambda: qrecords.queues_empty(inst.spool), timeout=60), inst.log_text()[-3000:]

    inst.stop()
    inst.set_conf(filterd_spam_action="reject")
    inst.start()
    r = lmtp_send(inst, two_users_message("reject@example.org"),
                  ["alice@mailroom.test", "bob@mailroom.test"])
    assert re.match(rb"554 5\.7\.1 \w+: Spam: score 3\.0 \(BAYES_95\)\r\n$", r[0]), r
    assert re.match(rb"250 2\.0\.0 \w+: Ok, passed through ", r[1]), r
    assert wait_for(lambda: len(maildir(inst, "bob")) == 2, timeout=60)
    r = lmtp_send(inst, two_users_message("smtp@example.org"),
                  ["alice@mailroom.test", "bob@mailroom.test"], hello=b"EHLO")
    assert re.match(rb"250 2\.0\.0 \w+: Ok: 1 delivered, 1 quarantined\r\n$", r[0]), r
    assert wait_for(lambda: len(maildir(inst, "bob")) == 3, timeout=60)
    assert maildir(inst, "alice") == []
    assert len(quarantine_list(inst)) == 2


def quarantine_list(inst):
    """mailroom-quarantine list: one string per message, its recipients
    on the lines after it."""
    r = inst.run(["mailroom-quarantine", "-c", inst.conf_dir, "list"])
    assert r.returncode == 0, r.stderr
    return re.split(r"\n(?! )", r.stdout.decode().strip())


def test_filterd_spamd_per_user(mailroom, clamd, spamd):
    """filterd_spamd_per_user: spamd is asked once per distinct recipient,
    with it as User; above filterd_spam_user_limit once for all, without
    one, and the log says so."""
    from test_filterd import maildir, wait_for
    inst = filtered_instance_spamd(mailroom, clamd, spamd)
    rcpts = ["alice@mailroom.test", "bob@mailroom.test"]
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=60) as s:
        s.sendmail("carol@example.org", rcpts[:2], two_users_message("sp1@example.org"))
    assert wait_for(lambda: maildir(inst, "alice") and maildir(inst, "bob"), timeout=120), \
        inst.log_text()[-3000:]
    log = spamd.log()
    for user in ("alice", "bob"):
        assert f"checking message <sp1@example.org> for {user}@mailroom.test:" in log, log
        inst.wait_log(rf"to=<{user}@mailroom\.test>, relay=filterd, dsn=2\.0\.0, status=sent "
                      r"\(.*\), spam=-?\d+\.\d \(.*\)$")
    assert log.count("checking message <sp1@example.org>") == 2
    # the restart below must find sp1 out of the queue: a copy in a Maildir
    # whose recipient was not marked done yet is delivered again after it
    assert wait_for(lambda: qrecords.queues_empty(inst.spool), timeout=60), inst.log_text()[-3000:]
    inst.stop()
    inst.set_conf(filterd_spam_user_limit="1")
    inst.start()
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=60) as s:
        s.sendmail("carol@example.org", rcpts[:2], two_users_message("sp2@example.org"))
    assert wait_for(lambda: len(maildir(inst, "alice")) == 2 and len(maildir(inst, "bob")) == 2,
                    timeout=120), inst.log_text()[-3000:]
    inst.wait_log(r"filterd\[\d+\]: \w+: more than filterd_spam_user_limit \(1\) users: the spam "
                  r"score is the same for all")
    log = spamd.log()
    assert log.count("checking message <sp2@example.org>") == 1, log
    assert "checking message <sp2@example.org> for alice" not in log


def filtered_instance_spamd(mailroom, clamd, spamd):
    from test_filterd import filter_instance
    return filter_instance(mailroom, clamd, filterd_spamd_address=spamd.sock,
                           filterd_spamd_per_user="yes")
