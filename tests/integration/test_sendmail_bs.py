"""test_sendmail_bs.py - sendmail -bs: smtpd in stand-alone mode on a pipe.

sendmail -bs runs the one SMTP server, smtpd, with -S on its standard
input and output. For root it becomes mail_owner and hands the message to
cleanup like the daemon does; for anyone else it goes through
mailroom-postdrop into maildrop/ and pickup. Either way the message must
land in the queue and show in mailq, and the reply must name an ID that
the administrator can find (the maildrop ID is mapped by pickup's
"orig_id=" log line).
"""
import os
import pwd
import re
import subprocess

import pytest

import qrecords
from conftest import IS_ROOT
from test_sendmail import inst, only_message, need  # noqa: F401 (fixture)

DIALOGUE = ("EHLO client.example\r\nMAIL FROM:<s@example.org>\r\n"
            "RCPT TO:<alice@mailroom.test>\r\nRCPT TO:<far@example.net>\r\n"
            "DATA\r\nSubject: bs\r\n\r\n..dot\r\nline\r\n.\r\nQUIT\r\n")


@pytest.fixture
def user(inst):
    """An ordinary user to run as: a throwaway account when we are root."""
    if not IS_ROOT:
        yield pwd.getpwuid(os.getuid()).pw_name
        return
    name = f"mrbs{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
    os.chmod(inst.dir, 0o755)
    os.chmod(inst.conf_dir, 0o755)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def run_bs(inst, dialogue, as_user=None):
    cmd = [inst.bin("sendmail"), "-bs"]
    if as_user and IS_ROOT:
        # what the installed set-gid postdrop gets: the user's uid with
        # the mailroom-drop group
        cmd = ["setpriv", "--reuid", as_user, "--regid", "mailroom-drop",
               "--clear-groups"] + cmd
    return subprocess.run(cmd, input=dialogue.encode(), env=inst.env,
                          capture_output=True, timeout=60)


def check_dialogue(r):
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert out.startswith("220 mx.mailroom.test ESMTP")
    assert "\r\n250-PIPELINING\r\n" in out
    assert out.count("250 2.1.5 Ok") == 2          # any destination: local submission
    assert "354 " in out
    m = re.search(r"250 2\.0\.0 Ok: queued as ([0-9A-Z]{16})\r\n", out)
    assert m, out
    assert out.endswith("221 2.0.0 Bye\r\n")
    return m.group(1)


def test_bs_as_root_goes_to_cleanup(inst):
    if not IS_ROOT:
        pytest.skip("covered by test_bs_as_ordinary_user when not root")
    qid = check_dialogue(run_bs(inst, DIALOGUE))
    env, body, path = only_message(inst)
    assert os.path.basename(path) == qid            # straight into incoming/
    assert env["sender"] == "s@example.org"
    assert env["rcpts"] == ["alice@mailroom.test", "far@example.net"]
    assert body.endswith(b"\n\n.dot\nline\n")
    assert b"Received: from client.example (localhost [127.0.0.1])" in body
    q = inst.run(["mailroom-queue", "-p"]).stdout.decode()
    assert qid in q and "far@example.net" in q


def test_bs_as_ordinary_user_goes_through_postdrop(inst, user):
    drop_id = check_dialogue(run_bs(inst, DIALOGUE, as_user=user))
    env, body, path = only_message(inst)
    qid = os.path.basename(path)
    assert env["rcpts"] == ["alice@mailroom.test", "far@example.net"]
    assert body.endswith(b"\n\n.dot\nline\n")
    uid = pwd.getpwnam(user).pw_uid
    if IS_ROOT:
        assert qid != drop_id
        inst.wait_log(rf"{qid}: uid={uid} from=<s@example\.org> orig_id={drop_id}$")
        assert env["attrs"]["uid"] == str(uid)
        assert "client_addr" not in env["attrs"]    # a user cannot claim one
    q = inst.run(["mailroom-queue", "-p"]).stdout.decode()
    assert qid in q and "alice@mailroom.test" in q


def test_bs_limits_are_smtpd_limits(mailroom, user):
    need("master", "pickup", "cleanup", "sendmail", "mailroom-postdrop", "smtpd")
    i = mailroom(extra={"smtpd_recipient_limit": "2", "message_size_limit": "3000"})
    if IS_ROOT:
        os.chmod(i.dir, 0o755)
        os.chmod(i.conf_dir, 0o755)
    dialogue = ("HELO c\r\nMAIL FROM:<s@example.org>\r\n"
                + "".join(f"RCPT TO:<r{n}@example.net>\r\n" for n in range(3))
                + "DATA\r\n" + "x" * 70 + "\r\n" + ("y" * 70 + "\r\n") * 60 + ".\r\nQUIT\r\n")
    r = run_bs(i, dialogue, as_user=user)
    out = r.stdout.decode()
    assert "452 4.5.3 Error: too many recipients" in out
    assert "552 5.3.4" in out and "queued as" not in out
    assert qrecords.files(i.spool, "maildrop") == []
