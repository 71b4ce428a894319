"""make install into a DESTDIR: the layout, modes and links a package gets,
the systemd unit, the manual pages, and make uninstall removing exactly
what install put there.

The install into / over Debian's postfix package (diversions, systemd,
byte-for-byte restore) changes the machine, so it is not part of make
test: tests/install/test-install.sh (make test-install) does it."""
import gzip
import os
import stat
import subprocess

from conftest import BUILD, TOP

MANIFEST = "usr/share/mailroom/install-manifest"


def run_install(destdir, *extra, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run(["bash", os.path.join(TOP, "tools", "install.sh"), BUILD,
                           str(destdir), "/usr", "/etc/mailroom", *extra],
                          capture_output=True, text=True, env=e, check=True)


def run_uninstall(destdir, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run(["bash", os.path.join(TOP, "tools", "uninstall.sh"),
                           str(destdir), "/usr"],
                          capture_output=True, text=True, env=e, check=True)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def all_files(root):
    found = set()
    for d, dirs, files in os.walk(root):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            found.add(os.path.relpath(os.path.join(d, name), root))
    return found


def test_destdir_layout_and_modes(tmp_path):
    dest = tmp_path / "root"
    out = run_install(dest).stdout
    assert "install-manifest" in out
    for cmd in ("mailroom", "mailroom-map", "mailroom-queue", "mailroom-postdrop", "mailroom-scan"):
        p = dest / "usr/sbin" / cmd
        assert p.is_file() and not p.is_symlink(), cmd
        assert mode(p) == 0o755, (cmd, oct(mode(p)))
    for daemon in ("master", "smtpd", "cleanup", "pickup", "qmgr", "local", "sendmail"):
        p = dest / "usr/lib/mailroom" / daemon
        assert p.is_file() and mode(p) == 0o755, daemon
    # test programs and benchmarks stay out
    for prog in ("testechod", "testeventd", "smtp-load", "bench-tables"):
        assert not (dest / "usr/lib/mailroom" / prog).exists(), prog
    # the MTA commands are links to our sendmail
    for link in ("usr/sbin/sendmail", "usr/bin/mailq", "usr/bin/newaliases", "usr/lib/sendmail"):
        assert os.readlink(dest / link) == "/usr/lib/mailroom/sendmail", link
    conf = (dest / "etc/mailroom/mailroom.conf").read_text()
    assert "daemon_directory = /usr/lib/mailroom" in conf
    assert mode(dest / "etc/mailroom/mailroom.conf") == 0o644
    assert (dest / "etc/mailroom/master.conf").is_file()
    assert mode(dest / "var/lib/mailroom") == 0o700
    assert (dest / "var/spool/mailroom").is_dir()
    unit = (dest / "lib/systemd/system/mailroom.service").read_text()
    assert "ExecStart=/usr/sbin/mailroom start" in unit
    assert "PIDFile=/var/spool/mailroom/pid/master.pid" in unit
    assert (dest / "etc/logrotate.d/mailroom").is_file()
    # with DESTDIR nothing outside it changes and no user is created
    assert "not root or DESTDIR set" in out


def test_man_pages_made_from_docs(tmp_path):
    dest = tmp_path / "root"
    run_install(dest)
    man = dest / "usr/share/man"
    for page in ("man8/mailroom.8.gz", "man5/mailroom.conf.5.gz", "man5/master.conf.5.gz",
                 "man8/smtpd.8.gz", "man8/qmgr.8.gz", "man8/local.8.gz",
                 "man1/mailroom-queue.1.gz", "man1/sendmail.1.gz", "man1/mailq.1.gz"):
        assert (man / page).is_file(), page
    text = gzip.open(man / "man8/mailroom.8.gz").read().decode()
    assert text.startswith('.\\" generated from docs/mailroom.md')
    assert '.TH "MAILROOM" "8"' in text
    assert gzip.open(man / "man1/mailq.1.gz").read() == b".so man1/sendmail.1\n"
    # man renders it without complaint
    r = subprocess.run(["man", "--warnings", "-l", str(man / "man8/mailroom.8.gz")],
                       capture_output=True, text=True, env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0 and "start, stop, reload" in " ".join(r.stdout.split()), r.stderr


def test_unit_file_verifies(tmp_path):
    dest = tmp_path / "root"
    run_install(dest)
    unit = dest / "lib/systemd/system/mailroom.service"
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                       capture_output=True, text=True)
    # verify complains about the ExecStart binaries missing on this machine
    # (they are under DESTDIR); anything else is a mistake in the unit
    problems = [line for line in r.stderr.splitlines()
                if line.strip() and "/usr/sbin/mailroom" not in line
                and "mailroom.service" in line]
    assert not problems, r.stderr


def test_uninstall_removes_exactly_what_install_added(tmp_path):
    dest = tmp_path / "root"
    # something that was there before and is not ours: must survive untouched
    (dest / "etc").mkdir(parents=True)
    (dest / "etc/hostname").write_text("before\n")
    before = all_files(dest)
    run_install(dest)
    assert (dest / MANIFEST).is_file()
    # an administrator's edit is kept, said so
    conf = dest / "etc/mailroom/mailroom.conf"
    conf.write_text(conf.read_text() + "myhostname = mx.example.org\n")
    out = run_uninstall(dest).stdout
    assert "kept /etc/mailroom/mailroom.conf: changed since install" in out
    conf.unlink()
    (dest / "etc/mailroom").rmdir()
    assert all_files(dest) == before
    assert (dest / "etc/hostname").read_text() == "before\n"


def test_existing_config_is_not_replaced(tmp_path):
    dest = tmp_path / "root"
    (dest / "etc/mailroom").mkdir(parents=True)
    (dest / "etc/mailroom/master.conf").write_text("# mine\n")
    out = run_install(dest).stdout
    assert (dest / "etc/mailroom/master.conf").read_text() == "# mine\n"
    assert "/etc/mailroom/master.conf exists; the shipped version is in" in out
    assert (dest / "etc/mailroom/master.conf.new").is_file()


def test_unpackaged_foreign_command_is_kept_and_restored(tmp_path):
    dest = tmp_path / "root"
    (dest / "usr/bin").mkdir(parents=True)
    (dest / "usr/bin/mailq").write_bytes(b"#!/bin/sh\necho other mailq\n")
    out = run_install(dest).stdout
    assert "kept the previous /usr/bin/mailq as /usr/bin/mailq.pre-mailroom" in out
    assert os.readlink(dest / "usr/bin/mailq") == "/usr/lib/mailroom/sendmail"
    run_uninstall(dest)
    assert (dest / "usr/bin/mailq").read_bytes() == b"#!/bin/sh\necho other mailq\n"
    assert not (dest / "usr/bin/mailq.pre-mailroom").exists()


def test_mta_commands_no_leaves_them_alone(tmp_path):
    dest = tmp_path / "root"
    out = run_install(dest, env={"MTA_COMMANDS": "no"}).stdout
    assert "MTA_COMMANDS=no" in out
    assert not (dest / "usr/sbin/sendmail").exists()
    assert not (dest / "usr/bin/mailq").exists()
    assert (dest / "usr/lib/mailroom/sendmail").is_file()
