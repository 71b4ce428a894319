#!/usr/bin/python3
"""mkinstance.py - create a self-contained Mailroom instance in a directory.

Used by `make run` (fixed high ports) and by the integration tests (free
ports chosen by the test). The instance holds everything: configuration,
queue, mail store, log, and demo users:

    DIR/etc/       mailroom.conf, master.conf, vmailbox, aliases, sender_login,
                   sasldb2 + sasl2/smtpd.conf (Cyrus SASL: the demo users),
                   cert.pem + key.pem (a self-signed certificate made here)
    DIR/spool/     queue_directory
    DIR/mail/      virtual_mailbox_base (Maildirs of the demo users)
    DIR/log/       mailroom.log
    DIR/data/      data_directory (the daemons' own data)
    DIR/clamd/     with the content filter and no clamd named: a clamd
                   configuration and its small signature database, for
                   make run to start (clamd_files); clamd's temporary
                   files go to /dev/shm/mailroom-clamd-XXXX (a tmpfs)
"""
import argparse
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

DEMO_DOMAIN = "mailroom.test"
DEMO_USERS = {"alice": "alice-pw", "bob": "bob-pw"}

# Service -> default port for `make run`.
RUN_PORTS = {
    "smtp": 2525, "submission": 2587, "smtps": 2465,
    "pop3": 1110, "pop3s": 1995, "imap": 1143, "imaps": 1993,
    "sieve": 4190, "filter": 10024, "reinject": 10025,
}


# Per-service overrides (master.conf -o name=value).
SUBMISSION_OPTS = (" -o smtpd_sasl_auth_enable=yes"
                   " -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
                   " -o smtpd_sender_login_maps=texthash:{d}/etc/sender_login")
SERVICE_OPTS = {
    "submission": " -o smtpd_tls_security_level=encrypt" + SUBMISSION_OPTS,
    "smtps": " -o smtpd_tls_wrappermode=yes" + SUBMISSION_OPTS,
}


def filter_opts(name, ports):
    """With a filter port, mail received on the SMTP ports goes through the
    content filter; the re-injection port takes mail only from the filter's
    address and does not filter it again."""
    if "filter" not in ports:
        return ""
    if name == "reinject":
        return (" -o content_filter= -o smtpd_client_restrictions=permit_mynetworks,reject"
                " -o mynetworks=127.0.0.1/32 -o in_flow_delay=0")
    return f" -o content_filter=filterd:[127.0.0.1]:{ports['filter']}"


def master_conf(ports, d, qmgr=True, services=()):
    """The service table for an instance; only services that exist so far.

    Every SMTP listener is smtpd, with -o overrides like Postfix's master.cf:
    the smtps port speaks TLS from the first byte; 10025 is where the content
    filter re-injects mail. Without qmgr, mail stays in incoming/ (tests that
    look at queue files); services are extra master.conf lines (a test's
    delivery agent).

    As shipped (conf/master.conf), every daemon that can runs chrooted into
    the queue directory; started by root, the instance really does (not
    root, chroot is a no-op). tabled reopens rebuilt tables by path and
    local reaches users' homes: they cannot.
    """
    lines = ["# service      type  private unpriv chroot wakeup maxproc command"]
    for name in ("smtp", "submission", "smtps", "reinject"):
        if name in ports:
            # AUTH reads the sasldb in etc/ at each login: those services
            # are not chrooted (docs/smtpd.md)
            chroot = "n" if name in ("submission", "smtps") else "y"
            lines.append(f"127.0.0.1:{ports[name]}  inet n y {chroot} - 100 smtpd"
                         + SERVICE_OPTS.get(name, "").format(d=d)
                         + filter_opts(name, ports))
    if "filter" in ports:
        # the content filter loop (docs/filterd.md): filterd on the filter
        # port, and the filterd transport (the smtp agent) that qmgr uses
        # to reach it
        lines.append(f"127.0.0.1:{ports['filter']}  inet n y n - 10 filterd")
        lines.append("filterd        unix  y       y      n      -      -       smtp")
    # pop3d keeps root (unpriv n) to split each connection into a login
    # process, an auth process and one running as the user (docs/pop3d.md)
    if "pop3" in ports:
        lines.append(f"127.0.0.1:{ports['pop3']}  inet n n n - 100 pop3d")
    if "pop3s" in ports:
        lines.append(f"127.0.0.1:{ports['pop3s']}  inet n n n - 100 pop3d"
                     " -o pop3d_tls_wrappermode=yes")
    lines += [
        "cleanup        unix  y       y      y      -      0       cleanup",
        "tabled         unix  y       y      n      -      0       tabled",
        "anvil          unix  y       y      y      -      1       anvil",
        "pickup         unix  n       y      y      60     1       pickup",
        "showq          unix  n       y      y      -      10      showq",
        "local          unix  y       n      n      -      -       local",
        "smtp           unix  y       y      y      -      -       smtp",
        "lmtp           unix  y       y      n      -      -       smtp",
    ]
    if qmgr:
        lines.append("qmgr           unix  n       y      y      60     1       qmgr")
    lines += list(services)
    return "\n".join(lines) + "\n"


def mailroom_conf(d, build_bin, extra):
    conf = {
        "compatibility_level": "2",
        "myhostname": "mx.mailroom.test",
        "mydomain": "mailroom.test",
        "mydestination": "$myhostname, localhost",
        "mynetworks": "127.0.0.1/32",
        # no client name lookups through the machine's resolver: a test
        # that wants them sets dns_servers to its own stub
        "smtpd_peername_lookup": "no",
        "virtual_mailbox_domains": DEMO_DOMAIN,
        "virtual_mailbox_maps": f"texthash:{d}/etc/vmailbox",
        "virtual_mailbox_base": f"{d}/mail",
        "alias_maps": f"texthash:{d}/etc/aliases",
        "queue_directory": f"{d}/spool",
        "data_directory": f"{d}/data",
        "daemon_directory": build_bin,
        "command_directory": build_bin,
        "maillog_file": f"{d}/log/mailroom.log",
        "mail_owner": "mailroom",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_cert_file": f"{d}/etc/cert.pem",
        "smtpd_tls_key_file": f"{d}/etc/key.pem",
        "cyrus_sasl_config_path": f"{d}/etc/sasl2",
    }
    conf.update(extra)
    return "".join(f"{k} = {v}\n" for k, v in conf.items())


# Users log in as "alice"; libsasl2 looks them up in the realm of the server's
# name (myhostname), as smtpd_sasl_local_domain is left empty.
SASL_REALM = "mx.mailroom.test"


def make_sasldb(etc):
    """Demo users in a sasldb, and the Cyrus SASL configuration (etc/sasl2/
    smtpd.conf) that points libsasl2 at it. The daemons read the sasldb as
    mail_owner, so as root it is made group-readable by that user's group."""
    path = os.path.join(etc, "sasldb2")
    tool = shutil.which("saslpasswd2") or "/usr/sbin/saslpasswd2"
    for user, pw in DEMO_USERS.items():
        subprocess.run([tool, "-p", "-c", "-f", path, "-u", SASL_REALM, user],
                       input=pw.encode(), check=True)
    if os.geteuid() == 0:
        import grp
        import pwd
        try:
            gid = pwd.getpwnam("mailroom").pw_gid
        except KeyError:
            gid = grp.getgrnam("nogroup").gr_gid
        os.chown(path, 0, gid)
    os.chmod(path, 0o640)
    os.makedirs(os.path.join(etc, "sasl2"), exist_ok=True)
    for app in ("smtpd", "pop3d"):
        with open(os.path.join(etc, "sasl2", f"{app}.conf"), "w") as f:
            f.write("pwcheck_method: auxprop\n"
                    "auxprop_plugin: sasldb\n"
                    f"sasldb_path: {path}\n"
                    "mech_list: PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256\n")


def make_cert(etc, name="mx.mailroom.test", days=365):
    """A self-signed certificate (ECDSA P-256, quick to make) and its key."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", os.path.join(etc, "key.pem"),
                    "-out", os.path.join(etc, "cert.pem"), "-days", str(days),
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True)
    os.chmod(os.path.join(etc, "key.pem"), 0o600)


# The content filter's test signatures: the EICAR test string and a
# string of our own (clamd reports them as NAME.UNOFFICIAL).
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
TEST_SIGNATURE = b"MAILROOM-TEST-SIGNATURE-0c7a4e51"


TMPFS = "/dev/shm"
CLAMD_TMP_PREFIX = "mailroom-clamd-"


def on_tmpfs(path):
    """Is path the mount point of a tmpfs (/proc/mounts)?"""
    try:
        with open("/proc/mounts") as f:
            return any(len(w) > 2 and w[1] == path and w[2] == "tmpfs"
                       for w in (line.split() for line in f))
    except OSError:
        return False


def clamd_temp_remove(cdir):
    """Remove the folder on the tmpfs that cdir's clamd.conf names as
    clamd's TemporaryDirectory (clamd_temp_dir made it); call it once that
    clamd has stopped. Nothing else is touched."""
    try:
        with open(os.path.join(cdir, "clamd.conf")) as f:
            words = [line.split(None, 1) for line in f]
    except OSError:
        return
    for w in words:
        if len(w) == 2 and w[0] == "TemporaryDirectory":
            tmp = w[1].strip()
            if os.path.dirname(tmp) == TMPFS and \
                    os.path.basename(tmp).startswith(CLAMD_TMP_PREFIX):
                shutil.rmtree(tmp, ignore_errors=True)


def clamd_temp_dir(cdir):
    """Where clamd writes its temporary files: clamd makes a folder and
    files in it for every scan (the MIME parts it decodes), and on ext4
    creating and removing them cost clamd about as much CPU as the scan of
    a small message with a small database; so a folder of its own on a
    tmpfs (/dev/shm) when there is one, else cdir itself. The folder an
    earlier configuration in cdir named is removed first."""
    if not on_tmpfs(TMPFS):
        return cdir
    clamd_temp_remove(cdir)
    return tempfile.mkdtemp(prefix=CLAMD_TMP_PREFIX, dir=TMPFS)


def clamd_files(cdir, stream_max="25M", tmpfs=True):
    """A clamd configuration in cdir (socket cdir/clamd.sock, reachable by
    the mail owner) with a database of our two signatures only: nothing is
    downloaded and clamd starts in well under a second; with tmpfs, its
    temporary files on a tmpfs (clamd_temp_dir; clamd_temp_remove removes
    them once clamd stopped), else in cdir. Returns (conf, socket)."""
    db = os.path.join(cdir, "db")
    os.makedirs(db, exist_ok=True)
    with open(os.path.join(db, "mailroom-test.ndb"), "w") as f:
        f.write("Mailroom.Test.EICAR:0:*:%s\n" % EICAR.hex())
        f.write("Mailroom.Test.Signature:0:*:%s\n" % TEST_SIGNATURE.hex())
    sock = os.path.join(cdir, "clamd.sock")
    conf = os.path.join(cdir, "clamd.conf")
    tmp = clamd_temp_dir(cdir) if tmpfs else cdir
    with open(conf, "w") as f:
        f.write(f"LocalSocket {sock}\nLocalSocketMode 666\nDatabaseDirectory {db}\n"
                f"Foreground yes\nPidFile {cdir}/clamd.pid\nTemporaryDirectory {tmp}\n"
                f"LogFile {cdir}/clamd.log\nStreamMaxLength {stream_max}\n")
    return conf, sock


def own_mail_dir(path):
    """Virtual mailboxes belong to virtual_uid ($mail_owner): as root, give
    the folder they are created in to that user."""
    if os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam("mailroom")
    except KeyError:
        return
    os.chown(path, pw.pw_uid, pw.pw_gid)


def create(d, build_bin, ports, extra=None, qmgr=True, services=(), clamd_tmpfs=False):
    d = os.path.abspath(d)
    extra = dict(extra or {})
    if "filter" in ports and "reinject" in ports:
        # filterd and mailroom-quarantine send mail back in here
        extra.setdefault("filterd_reinject_nexthop", f"127.0.0.1:{ports['reinject']}")
    if "filter" in ports and "filterd_clamd_socket" not in extra:
        extra["filterd_clamd_socket"] = clamd_files(os.path.join(d, "clamd"), tmpfs=clamd_tmpfs)[1]
    for sub in ("etc", "spool", "mail", "log", "data"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    with open(os.path.join(d, "etc/mailroom.conf"), "w") as f:
        f.write(mailroom_conf(d, build_bin, extra or {}))
    with open(os.path.join(d, "etc/master.conf"), "w") as f:
        f.write(master_conf(ports, d, qmgr, services))
    with open(os.path.join(d, "etc/vmailbox"), "w") as f:
        for user in DEMO_USERS:
            f.write(f"{user}@{DEMO_DOMAIN} {DEMO_DOMAIN}/{user}/\n")
    with open(os.path.join(d, "etc/aliases"), "w") as f:
        f.write("postmaster: alice@mailroom.test\nabuse: postmaster\n")
    make_sasldb(os.path.join(d, "etc"))
    with open(os.path.join(d, "etc/sender_login"), "w") as f:
        for user in DEMO_USERS:
            f.write(f"{user}@{DEMO_DOMAIN} {user}\n")
    make_cert(os.path.join(d, "etc"))
    own_mail_dir(os.path.join(d, "mail"))
    with open(os.path.join(d, "etc/ports.json"), "w") as f:
        json.dump(ports, f)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--bin", required=True, help="folder with the built programs")
    ap.add_argument("--ports", help="JSON object service->port (default: make run ports)")
    ap.add_argument("-o", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()
    # With --ports, only those services listen (benchmarks, tests); without,
    # the fixed ports of `make run`.
    ports = json.loads(args.ports) if args.ports else dict(RUN_PORTS)
    extra = dict(kv.split("=", 1) for kv in args.o)
    print(create(args.dir, os.path.abspath(args.bin), ports, extra, clamd_tmpfs=True))


if __name__ == "__main__":
    main()
