/*
 * cleanup_client.c - the client side of the cleanup protocol (see
 * cleanup_client.h and docs/queue.md).
 *
 * Records are buffered in the stream and go out when the buffer fills or
 * at cleanup_finish. A failed write is sticky: every later call is a
 * no-op and cleanup_finish answers CLEANUP_STAT_TEMP, so a caller can
 * stream a whole message without checking each line. If cleanup dies
 * (even kill -9) the socket closes, the read of the verdict fails, and
 * the message is reported as not accepted: never a 250 without a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/cleanup_client.h"
#include "queue/record.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"
#include "util/stream.h"

#define CLEANUP_CONNECT_TIMEOUT 10

struct cleanup_client {
    stream_t *stream;
    char *queue_id;
    int in_content;  /* MESG sent */
    int error;       /* a write failed */
    int flags;       /* CLEANUP_FLAG_* for the handshake */
    pid_t pid;       /* postdrop: its process, else 0 */
    stream_t *reply; /* postdrop: its standard output */
};

#define POSTDROP_PROG "mailroom-postdrop"

static int postdrop_reap(pid_t pid);
static int postdrop_finish(cleanup_client_t **ccp, str_t *reason);

/* cleanup_flow_flag - new mail waits for a flow token unless the
 * sending service turned in_flow_delay off (-o in_flow_delay=0) */
int cleanup_flow_flag(void)
{
    return config_time("in_flow_delay") > 0 ? CLEANUP_FLAG_FLOW : 0;
}

/* cleanup_send_filter - the sending service's content_filter (its
 * master.conf -o or mailroom.conf), recorded by cleanup as an attribute
 * for qmgr: 0 ok (or none), -1 write error */
static int cleanup_send_filter(cleanup_client_t *cc)
{
    const char *filter = config_str("content_filter");

    if (*filter == 0)
	return 0;
    return rec_putf(cc->stream, REC_TYPE_ATTR, "content_filter=%s", filter);
}

/*
 * cleanup_send_flags - the {flags} list, buffered: it goes out with the
 * first records, so cleanup wakes once for both rather than once for the
 * flags and again for the message. Nothing waits for it: cleanup says
 * nothing until END. 0 ok, -1 write error.
 */
static int cleanup_send_flags(cleanup_client_t *cc, const char *flags)
{
    str_t *buf = str_new(32);
    int ret;

    attr_format_args(buf, MAIL_ATTR_FLAGS, flags, (char *)0);
    ret = stream_write(cc->stream, str_data(buf), str_len(buf));
    str_free(&buf);
    return ret;
}

/* cleanup_handshake - read {protocol, queue_id}, buffer {flags} */
static int cleanup_handshake(cleanup_client_t *cc, int flags, const char **error_r)
{
    attr_list_t *l = attr_list_new();
    const char *proto, *id;
    char buf[32];
    int ret = -1;

    if (attr_read(cc->stream, l) != 1)
	*error_r = "no handshake from cleanup service";
    else if ((proto = attr_get(l, MAIL_ATTR_PROTOCOL)) == NULL ||
	     strcmp(proto, MAIL_PROTO_CLEANUP) != 0)
	*error_r = "unexpected protocol from cleanup service";
    else if ((id = attr_get(l, MAIL_ATTR_QUEUE_ID)) == NULL || *id == 0) {
	static char why_buf[300];
	const char *why = attr_get(l, MAIL_ATTR_REASON);

	snprintf(why_buf, sizeof(why_buf), "%s",
		 why && *why ? why : "cleanup service sent no queue ID");
	*error_r = why_buf;
    } else {
	cc->queue_id = mr_strdup(id);
	snprintf(buf, sizeof(buf), "%d", flags);
	if (cleanup_send_flags(cc, buf) < 0 || cleanup_send_filter(cc) < 0)
	    *error_r = "cannot send to cleanup service";
	else
	    ret = 0;
    }
    attr_list_free(&l);
    return ret;
}

/* cleanup_connect - connect only; the handshake waits for cleanup_ready */
cleanup_client_t *cleanup_connect(int flags, const char **error_r)
{
    static int sigpipe_ignored;
    cleanup_client_t *cc;
    int fd;

    /* A dead cleanup must turn into an error return, not a signal. */
    if (!sigpipe_ignored) {
	signal(SIGPIPE, SIG_IGN);
	sigpipe_ignored = 1;
    }
    if ((fd = sock_connect_unix(mail_queue_path(MAIL_SOCK_CLEANUP), CLEANUP_CONNECT_TIMEOUT,
				error_r)) < 0)
	return NULL;
    cc = mr_calloc(1, sizeof(*cc));
    cc->stream = stream_open(fd);
    cc->flags = flags;
    stream_set_timeout(cc->stream, (int)config_time("ipc_timeout"));
    return cc;
}

/* cleanup_ready - the handshake of a cleanup_connect'ed client */
int cleanup_ready(cleanup_client_t **ccp, const char **error_r)
{
    cleanup_client_t *cc = *ccp;

    if (cc->queue_id != NULL)
	return 0;
    if (cleanup_handshake(cc, cc->flags, error_r) < 0) {
	stream_close(&cc->stream);
	mr_free(cc->queue_id);
	mr_free(cc);
	*ccp = NULL;
	return -1;
    }
    return 0;
}

/* cleanup_open - connect, handshake, get the queue ID */
cleanup_client_t *cleanup_open(int flags, const char **error_r)
{
    cleanup_client_t *cc = cleanup_connect(flags, error_r);

    if (cc != NULL && cleanup_ready(&cc, error_r) < 0)
	return NULL;
    return cc;
}

/* cleanup_queue_id - the ID cleanup assigned */
const char *cleanup_queue_id(const cleanup_client_t *cc)
{
    return cc->queue_id;
}

/* cleanup_error - did a write fail? */
int cleanup_error(const cleanup_client_t *cc)
{
    return cc->error;
}

/* cleanup_put - one record unless already failed */
static void cleanup_put(cleanup_client_t *cc, int type, const char *data, size_t len)
{
    if (!cc->error && rec_put(cc->stream, type, data, len) < 0)
	cc->error = 1;
}

/* cleanup_envelope - an envelope record; misuse after content is a bug */
static void cleanup_envelope(cleanup_client_t *cc, int type, const char *value)
{
    if (cc->in_content)
	msg_panic("cleanup client: %s record after message content", rec_type_name(type));
    cleanup_put(cc, type, value, strlen(value));
}

/* cleanup_attr - ATTR name=value */
void cleanup_attr(cleanup_client_t *cc, const char *name, const char *value)
{
    char *av = mr_format("%s=%s", name, value);

    cleanup_envelope(cc, REC_TYPE_ATTR, av);
    mr_free(av);
}

/* cleanup_sender - SENDER */
void cleanup_sender(cleanup_client_t *cc, const char *sender)
{
    cleanup_envelope(cc, REC_TYPE_SENDER, sender);
}

/* cleanup_rcpt - RCPT with optional ORCPT and NOTIFY */
void cleanup_rcpt(cleanup_client_t *cc, const char *rcpt, const char *orcpt, const char *notify)
{
    cleanup_envelope(cc, REC_TYPE_RCPT, rcpt);
    if (orcpt && *orcpt)
	cleanup_envelope(cc, REC_TYPE_ORCPT, orcpt);
    if (notify && *notify)
	cleanup_envelope(cc, REC_TYPE_NOTIFY, notify);
}

/* cleanup_line - NORM, or CONT for a piece; long lines are split */
void cleanup_line(cleanup_client_t *cc, const char *line, size_t len, int complete)
{
    if (!cc->in_content) {
	cleanup_put(cc, REC_TYPE_MESG, "", 0);
	cc->in_content = 1;
    }
    while (len > REC_MAX_LEN / 2) {
	cleanup_put(cc, REC_TYPE_CONT, line, REC_MAX_LEN / 2);
	line += REC_MAX_LEN / 2;
	len -= REC_MAX_LEN / 2;
    }
    cleanup_put(cc, complete ? REC_TYPE_NORM : REC_TYPE_CONT, line, len);
}

/* cleanup_free - close and free (and reap postdrop) */
static void cleanup_free(cleanup_client_t **ccp)
{
    cleanup_client_t *cc = *ccp;

    if (cc->stream)
	stream_close(&cc->stream);
    if (cc->reply)
	stream_close(&cc->reply);
    if (cc->pid > 0)
	(void)postdrop_reap(cc->pid);
    mr_free(cc->queue_id);
    mr_free(cc);
    *ccp = NULL;
}

/* cleanup_verdict - read {status, queue_id, reason} */
static int cleanup_verdict(cleanup_client_t *cc, str_t *reason)
{
    attr_list_t *l = attr_list_new();
    stream_t *from = cc->reply ? cc->reply : cc->stream;
    int status = CLEANUP_STAT_TEMP;
    const char *why;

    /* cleanup answers only after its flush: wait, then read */
    if (stream_wait_input(from) < 0 || attr_read(from, l) != 1) {
	str_printf(reason, "%s %s",
		   stream_timedout(from) ? "timeout waiting for" : "lost connection with",
		   cc->pid ? POSTDROP_PROG : "cleanup service");
    } else {
	status = (int)attr_get_long(l, MAIL_ATTR_STATUS, CLEANUP_STAT_TEMP);
	if (status < CLEANUP_STAT_OK || status > CLEANUP_STAT_NORCPT)
	    status = CLEANUP_STAT_TEMP;
	why = attr_get(l, MAIL_ATTR_REASON);
	str_set(reason, why ? why : status ? "cleanup service failed" : "");
    }
    attr_list_free(&l);
    return status;
}

/* cleanup_finish - END, flush, wait for the verdict */
int cleanup_finish(cleanup_client_t **ccp, str_t *reason)
{
    cleanup_client_t *cc = *ccp;
    int status;

    if (!cc->in_content)
	cleanup_put(cc, REC_TYPE_MESG, "", 0);
    cleanup_put(cc, REC_TYPE_END, "", 0);
    if (!cc->error && stream_flush(cc->stream) < 0)
	cc->error = 1;
    if (cc->pid > 0)
	return postdrop_finish(ccp, reason);
    if (cc->error) {
	/* cleanup may still have said why (e.g. it refused early). */
	status = cleanup_verdict(cc, reason);
	if (status == CLEANUP_STAT_OK)
	    status = CLEANUP_STAT_TEMP;
    } else
	status = cleanup_verdict(cc, reason);
    cleanup_free(ccp);
    return status;
}

/* cleanup_abort - drop the connection: cleanup removes its temp file */
void cleanup_abort(cleanup_client_t **ccp)
{
    if (*ccp == NULL)
	return;
    cleanup_free(ccp);
}

/*
 * The postdrop variant: a process that may not reach private/cleanup
 * (smtpd -S started by sendmail -bs for an ordinary user, sendmail
 * itself) runs command_directory/mailroom-postdrop with a pipe on each
 * of its standard input and output. postdrop names the queue ID of its
 * maildrop file first ({queue_id=ID}), reads the same records cleanup
 * would (ATTR, SENDER, RCPT, ..., MESG, content, END) and answers
 * {status=N, reason=TEXT} like cleanup; its exit status must agree (0
 * only when the file is committed). The file then waits in maildrop/
 * for pickup.
 */
/* postdrop_reap - wait for postdrop: its exit status, -1 if it was killed */
static int postdrop_reap(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0)
	if (errno != EINTR)
	    return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* postdrop_spawn - fork and exec postdrop on two pipes; pid or -1 */
static pid_t postdrop_spawn(int *to_r, int *from_r, const char **error_r)
{
    static char why[300];
    char *path = mr_format("%s/%s", config_str("command_directory"), POSTDROP_PROG);
    int in[2], out[2];
    pid_t pid = -1;

    if (pipe2(in, O_CLOEXEC) < 0) {
	snprintf(why, sizeof(why), "pipe: %s", strerror(errno));
    } else if (pipe2(out, O_CLOEXEC) < 0) {
	snprintf(why, sizeof(why), "pipe: %s", strerror(errno));
	close(in[0]);
	close(in[1]);
    } else if ((pid = fork()) == 0) {
	char *argv[] = {path, "-c", (char *)config_dir(), NULL};

	if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
	    _exit(EX_OSERR);
	signal(SIGPIPE, SIG_DFL);
	execv(path, argv);
	fprintf(stderr, "cannot run %s: %s\n", path, strerror(errno));
	_exit(EX_UNAVAILABLE);
    } else {
	if (pid < 0)
	    snprintf(why, sizeof(why), "fork: %s", strerror(errno));
	close(in[0]);
	close(out[1]);
	*to_r = in[1];
	*from_r = out[0];
	if (pid < 0) {
	    close(in[1]);
	    close(out[0]);
	}
    }
    mr_free(path);
    *error_r = why;
    return pid;
}

/* cleanup_open_postdrop - start postdrop and read its queue ID */
cleanup_client_t *cleanup_open_postdrop(const char **error_r)
{
    static char why[300];
    cleanup_client_t *cc;
    attr_list_t *l;
    const char *id;
    int to, from, status;

    signal(SIGPIPE, SIG_IGN);
    cc = mr_calloc(1, sizeof(*cc));
    if ((cc->pid = postdrop_spawn(&to, &from, error_r)) < 0) {
	mr_free(cc);
	return NULL;
    }
    cc->stream = stream_open(to);
    cc->reply = stream_open(from);
    stream_set_timeout(cc->reply, (int)config_time("ipc_timeout"));
    l = attr_list_new();
    if (attr_read(cc->reply, l) == 1 && (id = attr_get(l, MAIL_ATTR_QUEUE_ID)) && *id)
	cc->queue_id = mr_strdup(id);
    attr_list_free(&l);
    if (cc->queue_id == NULL) {
	stream_close(&cc->stream);
	status = postdrop_reap(cc->pid);
	cc->pid = 0;
	snprintf(why, sizeof(why), "%s failed (%s %d)", POSTDROP_PROG,
		 status < 0 ? "killed, status" : "exit status", status);
	*error_r = why;
	cleanup_free(&cc);
	return NULL;
    }
    return cc;
}

/* postdrop_finish - end of input for postdrop; its verdict and exit */
static int postdrop_finish(cleanup_client_t **ccp, str_t *reason)
{
    cleanup_client_t *cc = *ccp;
    int status, exit_status;

    if (stream_close(&cc->stream) < 0)
	cc->error = 1;
    status = cleanup_verdict(cc, reason);
    exit_status = postdrop_reap(cc->pid);
    if (exit_status != 0 && status == CLEANUP_STAT_OK)
	status = CLEANUP_STAT_TEMP;
    if (exit_status != 0 && (str_len(reason) == 0 || status == CLEANUP_STAT_TEMP))
	str_appendf(reason, "%s%s exited with status %d", str_len(reason) ? "; " : "",
		    POSTDROP_PROG, exit_status);
    if (cc->error && status == CLEANUP_STAT_OK)
	status = CLEANUP_STAT_TEMP;
    cc->pid = 0;
    cleanup_free(ccp);
    return status;
}
