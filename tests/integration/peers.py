"""peers.py - real mail servers for Mailroom to talk to in tests: Debian's
Postfix and Dovecot's LMTP server, each as its own throwaway instance.

PostfixPeer: `postfix -c DIR/etc` with its own queue_directory,
data_directory and log file, listening on a 127.0.0.x address of its own
and a free port (the smtp line of master.cf; inet_interfaces is 127.0.0.1,
lo's own address, as Postfix requires), final destination for its own domain
(mydestination, delivered by Postfix's virtual(8) agent into Maildirs under
DIR/mail), relaying everything else to `relayhost` (Mailroom's smtpd).
Master.cf is Debian's with the smtp line moved to that address and no
chroot. Nothing of /etc/postfix's own instance or spool is touched.

DovecotPeer: `dovecot -c DIR/dovecot.conf` with protocols = lmtp only, its
own base_dir (the LMTP Unix socket is DIR/run/lmtp), an LMTP port on a
127.0.0.x address, users from a passwd-file, Maildirs under DIR/home.

Both need root (their masters bind, switch users and chown), as in the
tests that run the instances as in production.
"""
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
DOVECOT = "/usr/sbin/dovecot"


def loopback_addr():
    """A 127.0.0.x address other than 127.0.0.1, and a free port on it."""
    for _ in range(50):
        addr = f"127.0.0.{random.randint(10, 250)}"
        with socket.socket() as s:
            try:
                s.bind((addr, 0))
            except OSError:
                continue
            return addr, s.getsockname()[1]
    raise RuntimeError("no free loopback address")


def wait_port(addr, port, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((addr, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def wait_pid_gone(pid, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def read_pid(path):
    try:
        return int(open(path).read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def maildir_new(base):
    """The files in a Maildir's new/ (sorted), [] when it is not there."""
    new = os.path.join(base, "new")
    return sorted(os.path.join(new, f) for f in os.listdir(new)) if os.path.isdir(new) else []


def wait_files(fn, count=1, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        files = fn()
        if len(files) >= count:
            return files
        time.sleep(0.1)
    return fn()


class PostfixPeer:
    def __init__(self, domain="peer.test", users=("carol",), relayhost=None, extra=None):
        self.domain = domain
        self.addr, self.port = loopback_addr()
        self.dir = tempfile.mkdtemp(prefix="mailroom-postfix-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.mail = os.path.join(self.dir, "mail")
        self.log = os.path.join(self.dir, "log", "postfix.log")
        for sub in ("etc", "spool", "data", "mail", "log"):
            os.makedirs(os.path.join(self.dir, sub))
        shutil.chown(os.path.join(self.dir, "data"), "postfix")
        nobody = pwd.getpwnam("nobody")
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        with open(os.path.join(self.etc, "mailboxes"), "w") as f:
            f.write("".join(f"{u}@{domain} {domain}/{u}/\n" for u in users))
        conf = {
            "compatibility_level": "3.6",
            "queue_directory": f"{self.dir}/spool",
            "data_directory": f"{self.dir}/data",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            # Postfix wants inet_interfaces to be an interface's own
            # address (lo has only 127.0.0.1); the smtp service itself binds
            # to 127.0.0.x:port in master.cf
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": f"mx.{domain}",
            "mydomain": domain,
            "mydestination": domain,
            "mynetworks": "127.0.0.0/8",
            "local_transport": "virtual",
            "virtual_mailbox_base": self.mail,
            "virtual_mailbox_maps": f"texthash:{self.etc}/mailboxes",
            "local_recipient_maps": "$virtual_mailbox_maps",
            "virtual_uid_maps": f"static:{nobody.pw_uid}",
            "virtual_gid_maps": f"static:{nobody.pw_gid}",
            "virtual_minimum_uid": "1",
            "alias_maps": "",
            "alias_database": "",
            "relayhost": relayhost or "",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
            "maillog_file": self.log,
            "maillog_file_prefixes": self.dir,
            "biff": "no",
        }
        self.conf = conf
        self.configure(**(extra or {}))
        self._master_cf()
        self.pid = None

    def configure(self, **params):
        """Set main.cf parameters (before start)."""
        self.conf.update(params)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("".join(f"{k} = {v}\n" for k, v in self.conf.items()))

    def _master_cf(self):
        """Debian's master.cf, smtp on our address and port, no chroot."""
        out = []
        for line in open("/etc/postfix/master.cf").read().splitlines():
            f = line.split()
            if line and not line[0].isspace() and not line.startswith("#") and len(f) >= 8:
                if f[0] == "smtp" and f[1] == "inet":
                    f[0] = f"{self.addr}:{self.port}"
                if f[4] == "y":
                    f[4] = "n"
                line = " ".join(f)
            out.append(line)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("\n".join(out) + "\n")

    def start(self):
        r = subprocess.run([POSTFIX, "-c", self.etc, "start"], capture_output=True, text=True,
                           timeout=60)
        self.pid = read_pid(os.path.join(self.dir, "spool", "pid", "master.pid"))
        if r.returncode != 0 or not wait_port(self.addr, self.port):
            self.stop()
            raise RuntimeError(f"postfix did not start: {r.stderr}\n{self.log_text()[-2000:]}")
        return self

    def stop(self):
        pid = self.pid or read_pid(os.path.join(self.dir, "spool", "pid", "master.pid"))
        subprocess.run([POSTFIX, "-c", self.etc, "stop"], capture_output=True, timeout=60)
        if pid and not wait_pid_gone(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid = None

    def flush(self):
        subprocess.run([POSTFIX, "-c", self.etc, "flush"], capture_output=True, timeout=60)

    def close(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            return open(self.log, errors="replace").read()
        except OSError:
            return ""

    def maildir(self, user):
        return maildir_new(os.path.join(self.mail, self.domain, user))


class DovecotPeer:
    def __init__(self, domain="lmtp.test", users=("dora", "emil"), quota=None):
        """users: local parts in domain, or whole addresses; quota: user ->
        storage limit (the quota plugin refuses a bigger message after
        DATA, with that recipient's own reply)."""
        self.domain = domain
        self.addr, self.port = loopback_addr()
        self.dir = tempfile.mkdtemp(prefix="mailroom-dovecot-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.home = os.path.join(self.dir, "home")
        self.run_dir = os.path.join(self.dir, "run")
        self.socket = os.path.join(self.run_dir, "lmtp")
        self.log = os.path.join(self.dir, "dovecot.log")
        os.makedirs(self.home)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.home, nobody.pw_uid, nobody.pw_gid)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        users_file = os.path.join(self.dir, "users")
        with open(users_file, "w") as f:
            for u in users:
                extra = f"userdb_quota_rule=*:storage={quota[u]}" if u in (quota or {}) else ""
                address = u if "@" in u else f"{u}@{domain}"
                f.write(f"{address}::{nobody.pw_uid}:{nobody.pw_gid}::"
                        f"{self.home}/{u}::{extra}\n")
        with open(self.conf, "w") as f:
            f.write(f"""protocols = lmtp
listen = {self.addr}
base_dir = {self.run_dir}
state_dir = {self.dir}/state
log_path = {self.log}
ssl = no
first_valid_uid = 1
mail_location = maildir:~/Maildir
hostname = lmtp.{domain}
mail_plugins = quota
plugin {{
  quota = maildir:User quota
}}
passdb {{
  driver = passwd-file
  args = {users_file}
}}
userdb {{
  driver = passwd-file
  args = {users_file}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = {self.addr}
    port = {self.port}
  }}
}}
""")
        self.pid = None

    def start(self):
        # dovecot forks into the background: its output goes to a file, not
        # to a pipe the daemon would keep open
        with open(os.path.join(self.dir, "dovecot.stderr"), "w") as err:
            r = subprocess.run([DOVECOT, "-c", self.conf], stdin=subprocess.DEVNULL,
                               stdout=err, stderr=err, timeout=60)
        if r.returncode != 0 or not wait_port(self.addr, self.port):
            self.stop()
            raise RuntimeError("dovecot did not start: "
                               + open(os.path.join(self.dir, "dovecot.stderr")).read()
                               + self.log_text()[-2000:])
        self.pid = read_pid(os.path.join(self.run_dir, "master.pid"))
        deadline = time.time() + 10
        while not os.path.exists(self.socket) and time.time() < deadline:
            time.sleep(0.1)
        return self

    def stop(self):
        pid = self.pid or read_pid(os.path.join(self.run_dir, "master.pid"))
        if pid:
            subprocess.run([DOVECOT, "-c", self.conf, "stop"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            if not wait_pid_gone(pid):
                os.kill(pid, signal.SIGKILL)
        self.pid = None

    def close(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            return open(self.log, errors="replace").read()
        except OSError:
            return ""

    def maildir(self, user):
        return maildir_new(os.path.join(self.home, user, "Maildir"))
