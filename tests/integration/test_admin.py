"""The mailroom command tells the truth: reload runs start's checks, stop
and status work whatever mailroom.conf says, config -n shows values as
written, config -e edits in place, --help, and defaults taken from the
machine (myhostname) rather than fixed."""
import os
import socket
import subprocess

from conftest import BIN


def mailroom_cmd(inst, *args):
    return subprocess.run([os.path.join(BIN, "mailroom"), "-c", inst.conf_dir, *args],
                          capture_output=True, text=True, env=inst.env, timeout=60)


def bare_conf(tmp_path, text=""):
    """A configuration directory with only what the test says."""
    d = tmp_path / "etc"
    d.mkdir()
    (d / "mailroom.conf").write_text(f"queue_directory = {tmp_path}/spool\n" + text)
    return str(d)


def config_of(conf_dir, *names, flag=None):
    args = [os.path.join(BIN, "mailroom"), "-c", conf_dir, "config"]
    args += [flag] if flag else []
    r = subprocess.run(args + list(names), capture_output=True, text=True, check=True)
    return dict(line.split(" = ", 1) for line in r.stdout.splitlines())


def machine_fqdn():
    """What Postfix would call this machine."""
    name = socket.gethostname()
    if "." not in name:
        try:
            canon = socket.getaddrinfo(name, None, flags=socket.AI_CANONNAME)[0][3]
            if "." in canon:
                name = canon
        except OSError:
            pass
    return name if "." in name else name + ".localdomain"


def test_reload_refuses_what_start_would_refuse(mailroom):
    inst = mailroom()
    with open(os.path.join(inst.conf_dir, "mailroom.conf"), "a") as f:
        f.write("no_such_parameter = 1\n")
    r = mailroom_cmd(inst, "reload")
    assert r.returncode == 1
    assert 'unknown parameter "no_such_parameter"' in r.stderr
    assert 'not reloading: "mailroom check" found the problems above' in r.stderr
    assert "reloading the mail system" not in r.stderr
    # still serving with what it had
    with socket.create_connection(("127.0.0.1", inst.ports["smtp"]), timeout=10) as s:
        assert s.recv(100).startswith(b"220 ")


def test_reload_refuses_a_broken_master_conf(mailroom):
    inst = mailroom()
    with open(os.path.join(inst.conf_dir, "master.conf"), "a") as f:
        f.write("broken inet n\n")
    r = mailroom_cmd(inst, "reload")
    assert r.returncode == 1 and "master.conf:" in r.stderr, r.stderr


def test_stop_and_status_work_with_a_broken_mailroom_conf(mailroom):
    inst = mailroom()
    inst.proc = None            # stopped below by the command, not by the fixture
    with open(os.path.join(inst.conf_dir, "mailroom.conf"), "a") as f:
        f.write("this line has no equals sign\n")
    r = mailroom_cmd(inst, "status")
    assert r.returncode == 0, r.stderr
    assert "the mail system is running" in r.stdout
    assert "missing '=' after parameter name" in r.stderr
    assert "going on with the rest of" in r.stderr
    r = mailroom_cmd(inst, "stop")
    assert r.returncode == 0 and "stopped the mail system" in r.stderr, r.stderr
    # start still refuses a broken file
    r = mailroom_cmd(inst, "start")
    assert r.returncode == 1 and "missing '=' after parameter name" in r.stderr


def test_help_lists_every_command():
    r = subprocess.run([os.path.join(BIN, "mailroom"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ("start", "stop", "reload", "status", "check", "config"):
        assert f"\n  {cmd} " in r.stdout
    r = subprocess.run([os.path.join(BIN, "mailroom"), "frobnicate"], capture_output=True, text=True)
    assert r.returncode == 1 and 'unknown command "frobnicate"' in r.stderr


def test_config_n_shows_values_as_written(tmp_path):
    d = bare_conf(tmp_path, "mydomain = example.org\nmyorigin = $mydomain\n")
    assert config_of(d, flag="-n")["myorigin"] == "$mydomain"
    assert config_of(d, "myorigin")["myorigin"] == "example.org"
    assert "myhostname" not in config_of(d, flag="-n")


def test_config_e_edits_in_place(tmp_path):
    d = bare_conf(tmp_path, "# the timeout, see docs\nsmtpd_timeout = 300s\n\n"
                  "# banner\nsmtpd_banner = $myhostname\n  ESMTP\nsmtpd_timeout = 10s\n")
    path = os.path.join(d, "mailroom.conf")
    os.chmod(path, 0o640)
    mr = os.path.join(BIN, "mailroom")
    r = subprocess.run([mr, "-c", d, "config", "-e", "smtpd_timeout = 5x"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "smtpd_timeout = 5x: bad time value" in r.stderr
    r = subprocess.run([mr, "-c", d, "config", "-e", "smtpd_timeout=60s",
                        "smtpd_banner = mx ESMTP", "myorigin=example.net"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert open(path).read() == (
        f"queue_directory = {tmp_path}/spool\n# the timeout, see docs\nsmtpd_timeout = 60s\n\n"
        "# banner\nsmtpd_banner = mx ESMTP\nmyorigin = example.net\n")
    assert os.stat(path).st_mode & 0o777 == 0o640
    r = subprocess.run([mr, "-c", d, "config", "-e", "no_such_thing=1"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and 'unknown parameter "no_such_thing"' in r.stderr


def test_myhostname_defaults_to_the_machine_name(tmp_path):
    d = bare_conf(tmp_path)
    values = config_of(d, "myhostname", "mydomain", "mydestination")
    fqdn = machine_fqdn()
    assert values["myhostname"] == fqdn
    assert values["mydomain"] == fqdn.split(".", 1)[1]
    assert config_of(d, "myhostname", flag="-d")["myhostname"] == fqdn


def test_mydestination_has_no_duplicates(tmp_path):
    d = bare_conf(tmp_path, "myhostname = localhost.localdomain\n")
    assert config_of(d, "mydestination")["mydestination"] == "localhost.localdomain, localhost"


def test_parameter_reference_lists_every_parameter(tmp_path):
    """build/doc/parameters.md is made from the declarations: every name
    mailroom knows is there with its type and default."""
    d = bare_conf(tmp_path)
    defaults = config_of(d, flag="-d")
    ref = open(os.path.join(BIN, "..", "doc", "parameters.md")).read()
    rows = {}
    for line in ref.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    assert set(rows) == set(defaults)
    assert rows["smtpd_timeout"][1:4] == ["time", "`300s`", "1 .. INT_MAX"]
    assert rows["mydestination"][1] == "list"
    # and mailroom.conf(5) carries it
    import gzip
    page = gzip.open(os.path.join(BIN, "..", "man", "mailroom.conf.5.gz")).read().decode()
    assert "smtpd_timeout" in page and '.SH "PARAMETERS"' in page
