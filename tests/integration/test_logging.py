"""Where log lines go: the fall-back file when there is no syslog socket
(containers, minimal images), and syslog_name for tools that expect
postfix/ names."""
import os
import smtplib
import subprocess
import tempfile
import time

from conftest import wait_port

MAIL = b"From: a@example.org\r\nSubject: log test\r\n\r\nhello\r\n"


def start_without_syslog(inst):
    """Start master where /dev/log is no socket: in a private mount
    namespace with a plain file mounted over it when this machine has one."""
    cmd = [inst.bin("master"), "-c", inst.conf_dir, "-f"]
    if os.path.exists("/dev/log"):
        blank = tempfile.NamedTemporaryFile(dir=inst.dir, delete=False).name
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
               'mount --bind "$0" /dev/log && exec "$@"', blank] + cmd
    inst.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(inst.dir, "log", "master.stderr"), "ab"),
                                 env=inst.env, start_new_session=True)
    assert wait_port(inst.ports["smtp"]) and inst.wait_sockets(), inst.log_text()[-2000:]


def send_one(inst):
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=20) as s:
        s.sendmail("a@example.org", ["alice@mailroom.test"], MAIL)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def test_no_syslog_socket_falls_back_to_a_file(mailroom):
    inst = mailroom(start=False)
    inst.set_conf(maillog_file="syslog")
    start_without_syslog(inst)
    send_one(inst)
    fallback = os.path.join(inst.dir, "data", "maillog")
    want = ("mailroom/smtpd[", "mailroom/cleanup[", "message-id=", "client=unknown[127.0.0.1]")
    text = ""
    for _ in range(100):
        text = read(fallback) if os.path.exists(fallback) else ""
        if all(w in text for w in want):
            break
        time.sleep(0.1)
    assert all(w in text for w in want), text[-2000:]
    # master says so where the administrator looks first
    stderr = read(os.path.join(inst.dir, "log", "master.stderr"))
    assert f"no syslog socket /dev/log: logging to {fallback}" in stderr
    # the file cannot be redirected by whoever can write data_directory
    st = os.lstat(fallback)
    assert st.st_nlink == 1 and not os.path.islink(fallback)


def test_check_warns_when_syslog_is_missing(mailroom):
    inst = mailroom(start=False)
    inst.set_conf(maillog_file="syslog")
    cmd = [inst.bin("mailroom"), "-c", inst.conf_dir, "check"]
    if os.path.exists("/dev/log"):
        blank = tempfile.NamedTemporaryFile(dir=inst.dir, delete=False).name
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
               'mount --bind "$0" /dev/log && exec "$@"', blank] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, env=inst.env)
    fallback = os.path.join(inst.dir, "data", "maillog")
    assert ("mailroom: note: no syslog socket /dev/log (no syslog daemon running?): "
            f"daemons log to {fallback} instead") in r.stdout, r.stdout + r.stderr


def test_linked_fallback_file_is_refused(mailroom):
    """A name planted by the mail owner in data_directory (a second link to
    another file) is not written through."""
    inst = mailroom(start=False)
    inst.set_conf(maillog_file="syslog")
    victim = os.path.join(inst.dir, "victim")
    with open(victim, "w") as f:
        f.write("untouched\n")
    os.makedirs(os.path.join(inst.dir, "data"), exist_ok=True)
    os.link(victim, os.path.join(inst.dir, "data", "maillog"))
    start_without_syslog(inst)
    send_one(inst)
    assert read(victim) == "untouched\n"
    stderr = read(os.path.join(inst.dir, "log", "master.stderr"))
    assert "not a regular file with one name" in stderr
    # the service went on, its lines on standard error
    assert "no syslog socket /dev/log: logging to standard error" in stderr
    assert "fatal" not in stderr


def test_syslog_name_tags_every_line(mailroom):
    inst = mailroom(start=False, extra={"syslog_name": "postfix"})
    inst.start()
    send_one(inst)
    inst.wait_log(r"postfix/smtpd\[\d+\]: [0-9A-Z]+: client=")
    inst.wait_log(r"postfix/cleanup\[\d+\]: [0-9A-Z]+: message-id=")
    assert "mailroom/smtpd[" not in inst.log_text()


def test_syslog_name_per_service(mailroom):
    """-o syslog_name=postfix/submission in master.conf, as Postfix admins write it."""
    inst = mailroom(start=False)
    path = os.path.join(inst.conf_dir, "master.conf")
    lines = []
    for line in read(path).splitlines():
        if line.split()[:2] == [str(inst.ports["smtp"]), "inet"] or \
                (line.split() and line.split()[0].endswith(f":{inst.ports['smtp']}")):
            line += " -o syslog_name=mailroom/submission"
        lines.append(line)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    inst.start()
    send_one(inst)
    inst.wait_log(r"mailroom/submission/smtpd\[\d+\]: [0-9A-Z]+: client=")
