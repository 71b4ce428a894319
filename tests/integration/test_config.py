"""test_config.py - mailroom.conf as the administrator sees it: typed values
checked by `mailroom check` with file:line, `mailroom config -d`, and a
daemon that never starts on a value check would have refused."""
import os
import re
import socket


def conf_path(inst):
    return os.path.join(inst.conf_dir, "mailroom.conf")


def append_conf(inst, text):
    with open(conf_path(inst), "a") as f:
        f.write(text)
    return len(open(conf_path(inst)).read().splitlines())


def test_check_reports_bad_values_with_file_line(mailroom):
    inst = mailroom(start=False)
    last = append_conf(inst, "smtpd_timeout = 5x\nmax_use = -3\n"
                             "smtpd_reject_unauth_pipelining = sometimes\n")
    r = inst.run(["mailroom", "check"])
    assert r.returncode == 1
    err = r.stderr.decode()
    conf = conf_path(inst)
    assert (f"{conf}:{last - 2}: smtpd_timeout = 5x: bad time value (expected a number of "
            f"seconds with an optional unit s, m, h, d or w)\n") in err
    assert f"{conf}:{last - 1}: max_use = -3: out of range: the int must be in [0..1000000]\n" in err
    assert (f"{conf}:{last}: smtpd_reject_unauth_pipelining = sometimes: bad bool value "
            f"(expected yes or no)\n") in err
    r = inst.run(["mailroom", "start"])
    assert r.returncode == 1 and b"not starting" in r.stderr


def test_check_reports_expansion_loop(mailroom):
    inst = mailroom(start=False)
    last = append_conf(inst, "mydomain = $myorigin\nmyorigin = $mydomain\n")
    r = inst.run(["mailroom", "check"])
    assert r.returncode == 1
    assert (f"{conf_path(inst)}:{last - 1}: mydomain = $myorigin: parameter expansion loop "
            f"through $mydomain\n").encode() in r.stderr


def test_check_accepts_good_values(mailroom):
    inst = mailroom(start=False)
    append_conf(inst, "smtpd_timeout = 2m\nmessage_size_limit = 20m\n")
    r = inst.run(["mailroom", "check"])
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""


def test_config_defaults(mailroom):
    inst = mailroom(start=False, extra={"smtpd_timeout": "17s"})
    r = inst.run(["mailroom", "config", "-d", "smtpd_timeout", "myorigin", "max_use"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"smtpd_timeout = 300s\nmyorigin = $myhostname\nmax_use = 100\n"
    r = inst.run(["mailroom", "config", "smtpd_timeout"])
    assert r.stdout == b"smtpd_timeout = 17s\n"
    r = inst.run(["mailroom", "config", "-d"])
    lines = r.stdout.decode().splitlines()
    assert "smtpd_banner = $myhostname ESMTP Mailroom" in lines
    assert "queue_directory = /var/spool/mailroom" in lines
    assert lines == sorted(lines)


def test_daemon_refuses_bad_value_at_start(mailroom):
    """A bad -o value in master.conf: check reports it with file:line; a
    master started without check runs the daemon, which stops before it
    serves anyone, with the same words."""
    inst = mailroom(start=False)
    mconf = os.path.join(inst.conf_dir, "master.conf")
    text = open(mconf).read()
    text = re.sub(r"^(\S+\s+inet\s.*smtpd)$", r"\1 -o smtpd_timeout=5x", text, count=1,
                  flags=re.M)
    with open(mconf, "w") as f:
        f.write(text)
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if "smtpd_timeout=5x" in ln)
    r = inst.run(["mailroom", "check"])
    assert r.returncode == 1
    assert (f"{mconf}:{line}: -o smtpd_timeout=5x: bad time value (expected a number of "
            f"seconds with an optional unit s, m, h, d or w)\n").encode() in r.stderr
    inst.start()
    with socket.create_connection(("127.0.0.1", inst.ports["smtp"]), timeout=5):
        inst.wait_log(r"smtpd\[\d+\]: fatal: -o smtpd_timeout=5x: bad time value \(expected")
