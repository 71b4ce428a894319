/*
 * local_user.c - run one delivery step as the user it is for.
 *
 * local keeps root only to become each recipient. Two ways were open:
 * switch the effective ids around each step (setegid/seteuid, as
 * Postfix's local does) or fork a child that drops for good. We fork.
 * With effective ids only, the process can always switch back to root,
 * so any bug in the code that runs "as the user" - the Maildir and mbox
 * writers walking a directory tree the user controls, the .forward
 * parser reading a file the user wrote, the command runner - is a root
 * bug. A child that called setgroups/setgid/setuid cannot regain root
 * (privs_become proves it), and everything it opens, creates or follows
 * is checked by the kernel with the user's rights, so a link planted by
 * the user leads nowhere the user could not go anyway. It does not set
 * PR_SET_NO_NEW_PRIVS: a user's command must be able to do what the user
 * can do at a shell, and that includes sending mail, through sendmail
 * and its set-gid mailroom-postdrop (vacation, filters that forward). The price is one fork per
 * step (tens of microseconds, next to the two fsyncs every delivery costs), and the result has to
 * come back through a pipe, hence the fixed-size local_result_t.
 *
 * The parent keeps root for the few things only root can do: opening a
 * mailbox in a root-owned spool directory (local_resolve.c, through a
 * directory descriptor with O_NOFOLLOW, checking the owner) and its
 * dot-lock. Not started as root, the child does not drop (there is
 * nothing to drop) and the same path runs.
 *
 * Maildir deliveries, the common step, go to a child kept per uid
 * instead (local_keep.c), with the same drop and the same argument.
 *
 * What the child holds. The agent has the queue file open read-write (to
 * mark recipients done) and holds master's sockets, qmgr's connection and
 * the socket of a child kept for another user. Before it drops, still
 * root, the child puts a read-only descriptor of the queue file in place
 * of the writable one (opened afresh through /proc/self/fd; the content
 * reader, which held a duplicate of the writable one, starts over) and
 * closes every descriptor but that one, its result pipe, the one its step
 * needs (the spool mbox root opened) and the log's. So neither the step's
 * own code, working on files the user controls, nor a command it runs can
 * change the queue file or speak to another daemon.
 *
 * Wire (child -> parent, one pipe): local_result_t, then the data bytes
 * (at most max_data), then EOF. A child that dies before writing a
 * whole result is a temporary failure.
 *
 * The child runs as the user, who may stop it (SIGSTOP; a command in his
 * .forward can stop its own parent). So the parent waits for the whole
 * answer at most the caller's time limit (local_child_time_limit, plus
 * command_time_limit for a command), then kills the child and defers
 * the step: a user can hold up a local process for that long, not for
 * good.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "local.h"
#include "queue/qfile.h"
#include "util/msg.h"
#include "util/privs.h"
#include "util/safe_open.h"

/* local_user_fds - in the child, before the drop: the queue file
 * read-only in place, everything else closed but fd, keep and the log */
static void local_user_fds(int fd, struct qfile *qf, int keep)
{
    int fds[3] = {fd, qf ? qf->fd : -1, keep};
    int ro;

    if (qf != NULL) {
	qfile_rewind(qf);
	if ((ro = reopen_read_only(qf->fd)) < 0 || dup3(ro, qf->fd, O_CLOEXEC) < 0) {
	    msg_warn("cannot reopen the queue file read-only: %m");
	    _exit(1);
	}
	(void)close(ro);
    }
    msg_close_others_but(fds, 3);
}

/* local_user_child - the child's side: descriptors, drop, run, report, exit */
static void local_user_child(int fd, const local_user_t *user, local_user_fn fn, void *ctx,
			     struct qfile *qf, int keep, size_t max_data)
{
    local_result_t r;
    str_t *data = str_new(256);

    local_user_fds(fd, qf, keep);
    if (privs_running_as_root())
	privs_become(user->uid, user->gid);
    memset(&r, 0, sizeof(r));
    local_result_set(&r, LOCAL_DEFER, "4.3.0", "delivery step gave no result");
    fn(ctx, &r, data);
    if (str_len(data) > max_data)
	str_truncate(data, max_data);
    if (write_all(fd, &r, sizeof(r)) < 0 || write_all(fd, str_data(data), str_len(data)) < 0)
	_exit(1);
    _exit(0);
}

/* local_wait_readable - see local.h */
int local_wait_readable(int fd, time_t deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    time_t left;
    int n;

    for (;;) {
	if ((left = deadline - time(NULL)) <= 0)
	    return errno = ETIMEDOUT, -1;
	n = poll(&p, 1, left > 86400 ? 86400 * 1000 : (int)left * 1000);
	if (n > 0)
	    return 0;
	if (n < 0 && errno != EINTR)
	    return -1;
    }
}

/* local_user_read - one read of the child's pipe before deadline: bytes
 * read, 0 at its end, -1 (errno ETIMEDOUT when the time is up) */
static ssize_t local_user_read(int fd, void *buf, size_t len, time_t deadline)
{
    ssize_t n;

    do {
	if (local_wait_readable(fd, deadline) < 0)
	    return -1;
    } while ((n = read(fd, buf, len)) < 0 && errno == EINTR);
    return n;
}

/* local_user_collect - read the child's result and data before
 * deadline: 0, or -1 (errno ETIMEDOUT when the time is up) */
static int local_user_collect(int fd, local_result_t *r, str_t *data, size_t max_data,
			      time_t deadline)
{
    char buf[4096];
    size_t got = 0;
    ssize_t n;

    while (got < sizeof(*r)) {
	if ((n = local_user_read(fd, (char *)r + got, sizeof(*r) - got, deadline)) <= 0)
	    return n == 0 ? (errno = EPIPE, -1) : -1;
	got += (size_t)n;
    }
    r->dsn[sizeof(r->dsn) - 1] = 0;
    r->text[sizeof(r->text) - 1] = 0;
    while ((n = local_user_read(fd, buf, sizeof(buf), deadline)) != 0) {
	if (n < 0)
	    return -1;
	if (data && str_len(data) + (size_t)n <= max_data)
	    str_append(data, buf, (size_t)n);
    }
    return 0;
}

/* local_user_run - fork, drop to the user, run fn, collect */
void local_user_run(const local_user_t *user, local_user_fn fn, void *ctx, struct qfile *qf,
		    int keep, int time_limit, local_result_t *r, str_t *data, size_t max_data)
{
    time_t deadline = time(NULL) + time_limit;
    int fds[2], status, ok, err = 0;
    pid_t pid;

    if (data)
	str_reset(data);
    maildir_seq++;
    if (pipe2(fds, O_CLOEXEC) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "cannot create pipe: %s", strerror(errno));
	return;
    }
    if ((pid = fork()) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "cannot fork: %s", strerror(errno));
	close(fds[0]);
	close(fds[1]);
	return;
    }
    if (pid == 0) {
	close(fds[0]);
	local_user_child(fds[1], user, fn, ctx, qf, keep, max_data);
    }
    close(fds[1]);
    if ((ok = local_user_collect(fds[0], r, data, max_data, deadline) == 0) == 0)
	err = errno;
    close(fds[0]);
    if (err == ETIMEDOUT) {
	msg_warn("delivery process %ld for uid %ld gave no answer within %ds: killed", (long)pid,
		 (long)user->uid, time_limit);
	kill(pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
	/* again */;
    if (err == ETIMEDOUT)
	local_result_set(r, LOCAL_DEFER, "4.3.0",
			 "delivery process for uid %ld gave no answer in time", (long)user->uid);
    else if (!ok)
	local_result_set(r, LOCAL_DEFER, "4.3.0", "delivery process for uid %ld died",
			 (long)user->uid);
}
