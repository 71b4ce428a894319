/*
 * mq_client.c - listing the queue through the showq service.
 *
 * Used by mailroom-queue -p/-j when the caller cannot read the queue
 * directories (they are mail_owner's alone): the showq daemon, which
 * runs as mail_owner, makes the listing and sends it over public/showq.
 * public/ is mode 0710, group setgid_group, so the socket is reachable
 * only with that group: mailroom-queue is installed setgid setgid_group
 * for this, and gives the group up (mq_drop_setgid) as soon as it is
 * connected.
 *
 * Nothing the daemon sends is interpreted: after the handshake the bytes
 * are copied to standard output as they come. The known weak spot: the
 * listing has no end marker, so a showq that dies half-way looks like a
 * shorter listing; the daemon's death is logged by master.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/sock.h"
#include "util/stream.h"
#include "mq.h"

#define MQ_CONNECT_TIMEOUT 10 /* seconds */

/* mq_connect_failed - tell the user why there is no listing */
static int mq_connect_failed(int err, const char *error)
{
    if (err == EACCES || err == EPERM) {
	fprintf(stderr,
		"mailroom-queue: fatal: cannot list the mail queue - %s "
		"(mailroom-queue must be installed setgid %s)\n",
		error, config_str("setgid_group"));
	return EX_NOPERM;
    }
    fprintf(stderr,
	    "mailroom-queue: fatal: cannot list the mail queue - "
	    "the mail system is down (%s)\n",
	    error);
    return EX_UNAVAILABLE;
}

/* mq_copy_out - everything the service sends, to standard output */
static int mq_copy_out(stream_t *in)
{
    char buf[8192];
    ssize_t n;

    while ((n = stream_read(in, buf, sizeof(buf))) > 0)
	if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
	    return EX_IOERR;
    if (fflush(stdout) != 0)
	return EX_IOERR;
    if (n < 0) {
	fprintf(stderr, "mailroom-queue: fatal: lost the connection to the showq service: %s\n",
		stream_timedout(in) ? "timeout" : strerror(errno));
	return EX_UNAVAILABLE;
    }
    return 0;
}

/* mq_show_remote - connect, ask, copy */
int mq_show_remote(int json)
{
    const char *error;
    stream_t *s;
    int fd, ret;

    if ((fd = sock_connect_unix(server_queue_path(MAIL_SOCK_SHOWQ), MQ_CONNECT_TIMEOUT, &error)) <
	0)
	return mq_connect_failed(errno, error);
    mq_drop_setgid();
    s = stream_open(fd);
    stream_set_timeout(s, (int)config_time("ipc_timeout"));
    if (attr_expect_protocol(s, MAIL_PROTO_SHOWQ, &error) < 0) {
	fprintf(stderr,
		"mailroom-queue: fatal: cannot list the mail queue - "
		"the showq service did not answer (%s)\n",
		error);
	stream_close(&s);
	return EX_UNAVAILABLE;
    }
    if (attr_send(s, MAIL_ATTR_REQUEST, json ? MAIL_REQ_JSON : MAIL_REQ_LIST, (char *)0) < 0) {
	fprintf(stderr, "mailroom-queue: fatal: cannot send the request to the showq service\n");
	stream_close(&s);
	return EX_UNAVAILABLE;
    }
    ret = mq_copy_out(s);
    stream_close(&s);
    return ret;
}
