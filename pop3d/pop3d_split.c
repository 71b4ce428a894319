/*
 * pop3d_split.c - one POP3 connection in three processes, so that the
 * code that reads the client never runs with rights it does not need.
 *
 * The parent (this single_server process) runs as root, not chrooted,
 * and never reads a byte from the client. For each connection it makes
 * the channels and forks:
 *
 *   login    pop3d_login_user, chrooted into an empty directory, with
 *            PR_SET_NO_NEW_PRIVS, before it reads anything: the greeting,
 *            TLS (STLS, port 995), CAPA, USER/PASS, AUTH. Passwords go to
 *            the auth process. After a login it sends the parent what is
 *            left of the client's input, then either exits (no TLS) or
 *            stays as the TLS proxy between the client and the mailbox
 *            process (the TLS session lives here and nowhere else).
 *   auth     mail_owner, not chrooted (the password backends read their
 *            files): libsasl2 (pop3d_authd.c). It never sees the client's
 *            socket, and it alone tells the parent who logged in.
 *   mailbox  the user: a virtual mailbox's virtual_uid/virtual_gid, or a
 *            system user's uid, gid and groups from the passwd and group
 *            files, with PR_SET_NO_NEW_PRIVS. Forked by the parent once
 *            both the auth process (the user name) and the login process
 *            (the rest of the input) have spoken; it opens the Maildir as
 *            the user, so the kernel checks every path with the user's
 *            rights. It talks to the client socket itself (no TLS) or to
 *            the login process's proxy (TLS).
 *
 * The parent reads only the auth process's user name (a table and passwd
 * lookup, no path in a directory anyone else can write) and the login
 * process's leftover input, which it hands on unread. Order in each
 * child: close what it must not hold (the listening socket and master's
 * status pipe among them), chroot, setgroups/setgid/setuid (proved
 * final by privs), PR_SET_NO_NEW_PRIVS, then the first read.
 *
 * The empty directory: made once per parent with mkdtemp (root-owned,
 * mode 0700, a name nobody can guess or replace in the sticky /tmp),
 * opened, and removed at once; a login process chroots into it through
 * the descriptor. A removed directory cannot get entries, so the jail
 * stays empty whatever happens.
 *
 * Not started as root (development, tests by a user), the same processes
 * run with the same ids, without chroot.
 *
 * Weak spot: the children inherit descriptors of the skeleton that this
 * file does not know by number (the epoll instance watching the
 * listening socket; the log's file or socket, which they need). The
 * listening socket itself and master's status pipe are closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_params.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "pop3d.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"
#include "util/sock.h"

#define SPLIT_REST_MAX 65536 /* input handed over at login (two reads) */

static uid_t login_uid;
static gid_t login_gid;
static int empty_fd = -1; /* the login processes' jail */

/* The descriptors of one connection: [0] is the parent's or first
 * child's end, [1] the other (see split_fork_*) */
typedef struct split {
    stream_t *client;
    pop3d_conn_t conn;
    int la[2]; /* login <-> auth: SASL requests */
    int ap[2]; /* auth -> parent: the user name */
    int lp[2]; /* login -> parent: the handoff */
    int px[2]; /* login <-> mailbox: the TLS proxy */
} split_t;

/* split_empty_dir - a removed, root-owned directory, open */
static int split_empty_dir(void)
{
    char path[] = "/tmp/pop3d-empty.XXXXXX";
    struct stat st;
    int fd;

    if (mkdtemp(path) == NULL)
	msg_fatal("mkdtemp %s: %m", path);
    if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 077) != 0)
	msg_fatal("%s: not the directory just made", path);
    if (rmdir(path) < 0)
	msg_fatal("rmdir %s: %m", path);
    return fd;
}

/* pop3d_split_pre_init - see pop3d.h */
void pop3d_split_pre_init(void)
{
    const char *user = config_str("pop3d_login_user");
    uid_t owner_uid;
    gid_t owner_gid;

    tzset(); /* the login processes log from their jail */
    if (!privs_running_as_root())
	return;
    if (privs_lookup(user, &login_uid, &login_gid) < 0)
	msg_fatal("pop3d_login_user: no such user \"%s\"", user);
    if (privs_lookup(config_str("mail_owner"), &owner_uid, &owner_gid) < 0)
	msg_fatal("mail_owner: no such user \"%s\"", config_str("mail_owner"));
    if (login_uid == 0 || login_uid == owner_uid)
	msg_fatal("pop3d_login_user %s must be an unprivileged user of its own, "
		  "not root or mail_owner",
		  user);
    empty_fd = split_empty_dir();
}

/* split_close - close the descriptors given, -1 ends the list */
static void split_close(int fd, ...)
{
    va_list ap;

    va_start(ap, fd);
    for (; fd != -1; fd = va_arg(ap, int))
	if (fd >= 0)
	    (void)close(fd);
    va_end(ap);
}

/* split_child - common start of a child: no master descriptors, a name
 * for ps and /proc */
static void split_child(const char *name)
{
    split_close(MASTER_LISTEN_FD, MASTER_STATUS_FD, -1);
    signal(SERVER_ORPHAN_SIGNAL, SIG_DFL);
    signal(SERVER_STRESS_SIGNAL, SIG_DFL);
    (void)prctl(PR_SET_NAME, name, 0, 0, 0);
}

/* split_become_login - jail, login user, no new privileges */
static void split_become_login(void)
{
    if (privs_running_as_root()) {
	if (fchdir(empty_fd) < 0 || chroot(".") < 0)
	    msg_fatal("chroot into the empty directory: %m");
	privs_become(login_uid, login_gid);
    }
    split_close(empty_fd, -1);
    privs_no_new_privs();
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
}

/* split_become_user - the mailbox's owner */
static void split_become_user(const pop3d_user_t *u)
{
    if (privs_running_as_root()) {
	if (u->uid == 0)
	    msg_panic("mailbox process as root");
	if (u->system && u->keep_gid)
	    privs_become_member_keeping(u->name, u->uid, u->gid, u->lock_gid);
	else if (u->system)
	    privs_become_member(u->name, u->uid, u->gid);
	else
	    privs_become(u->uid, u->gid);
    }
    split_close(empty_fd, -1);
    privs_no_new_privs();
}

/* split_auth - the auth process */
static void split_auth(split_t *sp)
{
    stream_t *login, *parent;

    split_child("pop3d-auth");
    split_close(stream_fd(sp->client), empty_fd, sp->la[0], sp->ap[0], sp->lp[0], sp->lp[1],
		sp->px[0], sp->px[1], -1);
    privs_drop(config_str("mail_owner"), NULL);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    login = stream_open(sp->la[1]);
    parent = stream_open(sp->ap[1]);
    stream_set_timeout(login, 0);
    stream_set_timeout(parent, 60);
    pop3d_authd_serve(&sp->conn, login, parent);
    stream_close(&parent);
    stream_close(&login);
    _exit(0);
}

/* split_hex - the rest of the input as hex (attribute values carry no NUL) */
static void split_hex(str_t *out, const str_t *in)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)str_data(in);

    for (size_t i = 0; i < str_len(in); i++) {
	str_appendc(out, digits[p[i] >> 4]);
	str_appendc(out, digits[p[i] & 15]);
    }
}

/* split_handoff - the login process's last words to the parent */
static int split_handoff(const pop3d_session_t *s, int parent_fd)
{
    stream_t *parent = stream_open(parent_fd);
    str_t *hex = str_new(2 * str_len(s->rest) + 1);
    int r;

    split_hex(hex, s->rest);
    stream_set_timeout(parent, 60);
    r = attr_send(parent, "tls", s->tls ? "1" : "0", "input", str_data(hex), (char *)0);
    str_free(&hex);
    stream_close(&parent);
    return r;
}

/* split_login - the login process */
static void split_login(split_t *sp)
{
    pop3d_session_t s = {.client = sp->client, .state = POP3D_AUTHORIZATION, .lock_fd = -1};
    pop3d_line_t line;
    stream_t *auth;

    split_child("pop3d-login");
    split_close(sp->la[1], sp->ap[0], sp->ap[1], sp->lp[0], sp->px[1], -1);
    split_become_login();
    auth = stream_open(sp->la[0]);
    stream_set_timeout(auth, 120);
    pop3d_sasl_channel(auth);
    s.addr = sp->conn.addr;
    s.port = sp->conn.port;
    s.line = &line;
    pop3d_line_init(&line);
    stream_set_deadline(s.client, var_pop3d_login_timeout);
    if (pop3d_tls_wrapper(&s) == 0)
	pop3d_session_run(&s, "+OK Mailroom POP3 server ready", NULL, 0);
    stream_set_deadline(s.client, 0); /* the TLS proxy has no end */
    pop3d_sasl_channel(NULL);
    stream_close(&auth);
    if (!s.handoff || split_handoff(&s, sp->lp[1]) < 0)
	pop3d_session_log(&s);
    else if (s.tls)
	pop3d_proxy(sp->client, sp->px[0]);
    pop3d_login_reset(&s);
    str_free(&s.rest);
    stream_close(&sp->client);
    _exit(0);
}

/* split_unhex - decode the handed-over input; -1 if malformed */
static int split_unhex(const char *hex, str_t *out)
{
    size_t len = strlen(hex);

    if (len % 2 || len > 2 * SPLIT_REST_MAX)
	return -1;
    for (size_t i = 0; i < len; i += 2) {
	char pair[3] = {hex[i], hex[i + 1], 0}, *end;
	long v = strtol(pair, &end, 16);

	if (*end || pair[0] == '-' || pair[0] == '+' || pair[0] == ' ')
	    return -1;
	str_appendc(out, (int)v);
    }
    return 0;
}

/* split_mailbox - the mailbox process */
static void split_mailbox(split_t *sp, pop3d_user_t *u, int tls, const str_t *rest,
			  const char *fail)
{
    pop3d_session_t s = {.state = POP3D_CLOSING, .lock_fd = -1};
    pop3d_line_t line;

    split_child("pop3d-mailbox");
    split_close(sp->lp[0], sp->ap[0], tls ? stream_fd(sp->client) : sp->px[1], -1);
    if (fail == NULL)
	split_become_user(u);
    else
	split_become_login();
    s.client = tls ? stream_open(sp->px[1]) : sp->client;
    s.addr = sp->conn.addr;
    s.port = sp->conn.port;
    s.line = &line;
    s.login = *u;
    s.tls_on = tls;
    pop3d_line_init(&line);
    if (fail)
	pop3d_reply(&s, "%s", fail);
    else if (pop3d_mailbox_open(&s) == 0)
	pop3d_login_ready(&s);
    pop3d_session_run(&s, NULL, str_data(rest), str_len(rest));
    if (s.store)
	(void)pop3d_mailbox_close(&s, 0, &fail);
    pop3d_session_log(&s);
    stream_close(&s.client);
    _exit(0);
}

/* split_read - one attribute list from a child; 1 ok, else 0 */
static int split_read(int fd, attr_list_t *l)
{
    stream_t *st = stream_open(fd);
    int r;

    stream_set_timeout(st, 0); /* the login process has its own timeouts */
    r = attr_read(st, l) > 0;
    stream_release(&st);
    return r;
}

/* split_after_login - the parent once the login process has handed over:
 * who (from the auth process), and the mailbox process */
static pid_t split_after_login(split_t *sp, const attr_list_t *handoff)
{
    attr_list_t *who = attr_list_new();
    pop3d_user_t u = {0};
    str_t *rest = str_new(256);
    const char *err = NULL, *fail = NULL;
    pid_t pid = -1;

    if (!split_read(sp->ap[0], who) || attr_get(who, "user") == NULL) {
	msg_warn("%s: the login process handed over without an authenticated user", sp->conn.addr);
    } else if (split_unhex(attr_get(handoff, "input") ? attr_get(handoff, "input") : "", rest) <
	       0) {
	msg_warn("%s: malformed handoff from the login process", sp->conn.addr);
    } else {
	if (pop3d_auth_mailbox(attr_get(who, "user"), &u, &err) < 0) {
	    msg_warn("login of <%s> from %s: %s", attr_get(who, "user"), sp->conn.addr, err);
	    u.name = mr_strdup(attr_get(who, "user"));
	    fail = "-ERR [SYS/PERM] This mailbox cannot be served over POP3 here";
	}
	if ((pid = fork()) == 0)
	    split_mailbox(sp, &u, attr_get_long(handoff, "tls", 0) == 1, rest, fail);
	if (pid < 0)
	    msg_warn("fork: %m");
    }
    pop3d_user_free(&u);
    str_free(&rest);
    attr_list_free(&who);
    return pid;
}

/* split_channels - the pipes and socket pairs of a connection */
static void split_channels(split_t *sp)
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp->la) < 0 ||
	pipe2(sp->ap, O_CLOEXEC) < 0 || pipe2(sp->lp, O_CLOEXEC) < 0 ||
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp->px) < 0)
	msg_fatal("socketpair/pipe: %m");
    /* pipes: [0] read (parent), [1] write (child) */
}

/* split_wait - reap the children of this connection */
static void split_wait(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
	if (pids[i] > 0)
	    while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
		;
}

/* pop3d_split_serve - see pop3d.h */
void pop3d_split_serve(stream_t *client)
{
    split_t sp = {.client = client};
    attr_list_t *handoff = attr_list_new();
    pid_t pids[3] = {-1, -1, -1};

    sock_peer_addr(stream_fd(client), sp.conn.addr, sizeof(sp.conn.addr), &sp.conn.port);
    sock_local_addr(stream_fd(client), sp.conn.laddr, sizeof(sp.conn.laddr), &sp.conn.lport);
    msg_info("connect from %s", sp.conn.addr);
    split_channels(&sp);
    /* the login process first: the greeting need not wait for the other */
    if ((pids[1] = fork()) == 0)
	split_login(&sp);
    if (pids[1] > 0 && (pids[0] = fork()) == 0)
	split_auth(&sp);
    if (pids[0] < 0 || pids[1] < 0)
	msg_warn("fork: %m");
    split_close(sp.la[0], sp.la[1], sp.ap[1], sp.lp[1], sp.px[0], -1);
    if (pids[1] > 0 && split_read(sp.lp[0], handoff))
	pids[2] = split_after_login(&sp, handoff);
    split_close(sp.px[1], sp.lp[0], sp.ap[0], -1);
    split_wait(pids, 3);
    attr_list_free(&handoff);
}
