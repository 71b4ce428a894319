/*
 * sm_drop.c - handing a message to mailroom-postdrop.
 *
 * sendmail runs with the invoking user's privileges and cannot write to
 * maildrop/ itself. It starts command_directory/mailroom-postdrop (setgid
 * setgid_group when installed) with a pipe on its standard input and
 * sends the maildrop file as queue-file records (lib/queue/record.h):
 * SENDER, RCPT [NOTIFY]..., ATTR..., MESG, content, END. postdrop checks
 * everything again, writes the file and prints "queue_id=ID" on its
 * standard output; its exit status (sysexits.h) is the verdict. Only a
 * zero exit means the message is on disk, so any other outcome is
 * reported to the caller with a non-zero exit: mail is never dropped
 * without the caller being told.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "global/config.h"
#include "queue/record.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "util/stream.h"
#include "sendmail.h"

struct sm_drop {
    pid_t   pid;
    stream_t *to;			/* postdrop's standard input */
    int     from_fd;			/* postdrop's standard output */
    long long size;			/* content bytes so far */
    int     failed;			/* a write failed: stop writing */
};

#define SM_POSTDROP	"mailroom-postdrop"

/* sm_drop_spawn - fork and exec postdrop with two pipes */
static pid_t sm_drop_spawn(int *to_r, int *from_r, str_t *why)
{
    int     in[2], out[2];
    char   *path = mr_format("%s/%s", config_str("command_directory"), SM_POSTDROP);
    pid_t   pid;

    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
	str_printf(why, "pipe: %s", strerror(errno));
	mr_free(path);
	return -1;
    }
    if ((pid = fork()) == 0) {
	char   *argv[] = {path, "-c", (char *) config_dir(), NULL};

	if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
	    _exit(EX_OSERR);
	signal(SIGPIPE, SIG_DFL);
	execv(path, argv);
	fprintf(stderr, "sendmail: cannot run %s: %s\n", path, strerror(errno));
	_exit(EX_UNAVAILABLE);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
	str_printf(why, "fork: %s", strerror(errno));
	close(in[1]);
	close(out[0]);
    }
    *to_r = in[1];
    *from_r = out[0];
    mr_free(path);
    return pid;
}

/* sm_drop_rec - one record, unless an earlier write failed */
static void sm_drop_rec(sm_drop_t *d, int type, const char *data, size_t len)
{
    if (!d->failed && rec_put(d->to, type, data, len) < 0)
	d->failed = 1;
}

/* sm_drop_attr - an ATTR record name=value when value is set */
static void sm_drop_attr(sm_drop_t *d, const char *name, const char *value)
{
    if (value && *value) {
	char   *nv = mr_format("%s=%s", name, value);

	sm_drop_rec(d, REC_TYPE_ATTR, nv, strlen(nv));
	mr_free(nv);
    }
}

/* sm_drop_open - start postdrop and send the envelope */
sm_drop_t *sm_drop_open(const sm_envelope_t *env, str_t *why)
{
    sm_drop_t *d = mr_calloc(1, sizeof(*d));
    int     to_fd;

    signal(SIGPIPE, SIG_IGN);
    if ((d->pid = sm_drop_spawn(&to_fd, &d->from_fd, why)) < 0) {
	mr_free(d);
	return NULL;
    }
    d->to = stream_open(to_fd);
    sm_drop_rec(d, REC_TYPE_SENDER, env->sender, strlen(env->sender));
    for (size_t i = 0; i < env->rcpts.count; i++) {
	sm_drop_rec(d, REC_TYPE_RCPT, env->rcpts.items[i], strlen(env->rcpts.items[i]));
	if (env->notify)
	    sm_drop_rec(d, REC_TYPE_NOTIFY, env->notify, strlen(env->notify));
    }
    sm_drop_attr(d, "fullname", env->fullname);
    sm_drop_attr(d, "envid", env->envid);
    sm_drop_attr(d, "ret", env->ret);
    sm_drop_attr(d, "body", env->body);
    sm_drop_rec(d, REC_TYPE_MESG, "", 0);
    return d;
}

/* sm_drop_line - one content line or piece */
void    sm_drop_line(sm_drop_t *d, const char *line, size_t len, int complete)
{
    sm_drop_rec(d, complete ? REC_TYPE_NORM : REC_TYPE_CONT, line, len);
    d->size += (long long) len + (complete ? 1 : 0);
}

/* sm_drop_content_size - content bytes sent so far */
long long sm_drop_content_size(const sm_drop_t *d)
{
    return d->size;
}

/* sm_drop_wait - reap postdrop and read its report */
static int sm_drop_wait(sm_drop_t *d, str_t *qid, str_t *why)
{
    char    buf[200];
    ssize_t n;
    size_t  have = 0;
    int     status;

    while (have < sizeof(buf) - 1
	   && ((n = read(d->from_fd, buf + have, sizeof(buf) - 1 - have)) > 0
	       || (n < 0 && errno == EINTR)))
	have += n > 0 ? (size_t) n : 0;
    buf[have] = 0;
    close(d->from_fd);
    while (waitpid(d->pid, &status, 0) < 0)
	if (errno != EINTR) {
	    str_printf(why, "waitpid: %s", strerror(errno));
	    return EX_TEMPFAIL;
	}
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && strncmp(buf, "queue_id=", 9) == 0) {
	buf[strcspn(buf, "\r\n")] = 0;
	str_set(qid, buf + 9);
	return 0;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == EX_DATAERR) {
	str_set(why, "mailroom-postdrop rejected the message");
	return EX_DATAERR;
    }
    if (WIFSIGNALED(status))
	str_printf(why, "mailroom-postdrop was killed by signal %d", WTERMSIG(status));
    else
	str_printf(why, "mailroom-postdrop failed with status %d", WEXITSTATUS(status));
    return EX_TEMPFAIL;
}

/* sm_drop_close - END, then postdrop's verdict */
int     sm_drop_close(sm_drop_t **dp, str_t *qid, str_t *why)
{
    sm_drop_t *d = *dp;
    int     ret;

    sm_drop_rec(d, REC_TYPE_END, "", 0);
    if (stream_close(&d->to) < 0)
	d->failed = 1;
    ret = sm_drop_wait(d, qid, why);
    if (ret == 0 && d->failed) {		/* cannot happen: postdrop saw END */
	str_set(why, "write to mailroom-postdrop failed");
	ret = EX_TEMPFAIL;
    }
    mr_free(d);
    *dp = NULL;
    return ret;
}

/* sm_drop_abort - end the transfer without END */
void    sm_drop_abort(sm_drop_t **dp)
{
    sm_drop_t *d = *dp;
    str_t  *ignore = str_new(10), *ignore2 = str_new(10);

    /* no END record: postdrop discards its temporary file */
    stream_close(&d->to);
    sm_drop_wait(d, ignore, ignore2);
    str_free(&ignore);
    str_free(&ignore2);
    mr_free(d);
    *dp = NULL;
}
