/*
 * testagent - a delivery agent for the integration tests of qmgr, built on
 * the delivery request library (lib/queue/deliver_request.h) like the
 * real agents. Not installed.
 *
 * What it does with each recipient depends on the address's local part:
 *   defer...   deferred (4.2.0)
 *   bounce...  bounced (5.1.1)
 *   retry...   deferred the first time (no record for it in defer/ID),
 *              delivered afterwards
 *   slow...    delivered after a pause of 2 seconds
 *   discard... reported delivered without writing anything (the queue
 *              benchmark: only the done mark and qmgr's work remain)
 *   stray...   as retry...; and the first time, before any reply of its
 *              batch, a reply naming a queue ID that is in no request,
 *              every recipient sent (an agent that answers for a file it
 *              never got: qmgr must take it for no message of the batch)
 *   anything else: delivered
 * Delivered means: the content is written to
 * $data_directory/testagent/NEXTHOP/ADDRESS/ID.OFFSET.PID.N (tmp file, fsync,
 * rename), one file per delivery, so a duplicate delivery shows up as a
 * second file. With the verify flag nothing is written; the outcome is
 * reported only.
 *
 * It reads a batch of requests (more=1, deliver_request.h) when qmgr
 * sends one (only where the transport has a batch limit: as the local
 * transport in a test) and answers them in the order read.
 *
 * Trust: only qmgr talks to it (private/testagent); the library checks
 * the request. Runs as mail_owner, not chrooted.
 *
 * Parameters: data_directory, queue_directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "queue/deliver_request.h"
#include "queue/qlog.h"
#include "util/msg.h"
#include "util/safe_open.h"
#include "util/str.h"

typedef struct testagent_seen {
    const deliver_rcpt_t *r;
    int found;
} testagent_seen_t;

/* testagent_seen_fn - a defer record for this recipient exists */
static int testagent_seen_fn(const qlog_entry_t *e, void *context)
{
    testagent_seen_t *seen = context;

    if (strcmp(e->rcpt, seen->r->address) == 0 && e->offset == (long long)seen->r->offset)
	seen->found = 1;
    return 0;
}

/* testagent_tried - was this recipient deferred before? */
static int testagent_tried(deliver_request_t *req, deliver_rcpt_t *r)
{
    testagent_seen_t seen = {r, 0};
    const char *why;

    (void)qlog_walk(MAIL_QUEUE_DEFER, req->queue_id, testagent_seen_fn, &seen, &why);
    return seen.found;
}

/* testagent_write - the content into a new file: 0 ok, -1 */
static int testagent_write(deliver_request_t *req, deliver_rcpt_t *r)
{
    static unsigned seq;
    str_t *dir = str_new(100), *tmp = str_new(100), *path = str_new(100);
    str_t *line = str_new(256);
    const char *why;
    int fd, complete, ret = -1, n;

    str_printf(dir, "%s/testagent/%s", config_str("data_directory"),
	       *req->nexthop ? req->nexthop : "-");
    (void)mkdir(str_data(dir), 0755);
    str_appendf(dir, "/%s", r->address);
    (void)mkdir(str_data(dir), 0755);
    str_printf(path, "%s/%s.%lld.%ld.%u", str_data(dir), req->queue_id, (long long)r->offset,
	       (long)getpid(), seq++);
    str_printf(tmp, "%s.tmp", str_data(path));
    if ((fd = safe_open(str_data(tmp), O_WRONLY | O_CREAT, 0644, (uid_t)-1, &why)) >= 0) {
	stream_t *out = stream_open(fd);

	while ((n = qfile_line(req->qf, line, 65536, &complete, &why)) > 0) {
	    stream_write(out, str_data(line), str_len(line));
	    if (complete)
		stream_write(out, "\n", 1);
	}
	if (n == 0 && stream_flush(out) == 0 && fsync(fd) == 0 &&
	    rename(str_data(tmp), str_data(path)) == 0)
	    ret = 0;
	stream_close(&out);
    }
    if (ret < 0)
	msg_warn("%s: testagent cannot write %s: %m", req->queue_id, str_data(path));
    str_free(&dir);
    str_free(&tmp);
    str_free(&path);
    str_free(&line);
    return ret;
}

/* testagent_one - act on rcpts[i] as its local part says */
static void testagent_one(deliver_request_t *req, size_t i)
{
    deliver_rcpt_t *r = req->rcpts + i;
    int verify = (req->flags & DELIVER_FLAG_VERIFY) != 0;

    if (strncmp(r->address, "defer", 5) == 0 ||
	((strncmp(r->address, "retry", 5) == 0 || strncmp(r->address, "stray", 5) == 0) &&
	 !testagent_tried(req, r)))
	deliver_deferred(req, i, "testagent", "4.2.0", "test agent: deferred as asked");
    else if (strncmp(r->address, "bounce", 6) == 0)
	deliver_bounced(req, i, "testagent", "5.1.1", "test agent: no such user");
    else if (verify)
	deliver_sent(req, i, "testagent", "2.0.0", "test agent: would deliver");
    else if (strncmp(r->address, "discard", 7) == 0)
	deliver_sent(req, i, "testagent", "2.0.0", "test agent: discarded");
    else {
	if (strncmp(r->address, "slow", 4) == 0)
	    sleep(2);
	if (testagent_write(req, r) == 0)
	    deliver_sent(req, i, "testagent", "2.0.0", "test agent: delivered");
	else
	    deliver_deferred(req, i, "testagent", "4.3.0", "test agent: write error");
    }
}

/* testagent_stray - does this request ask for a stray reply? */
static int testagent_stray(deliver_request_t *req)
{
    for (size_t i = 0; i < req->rcpt_count; i++)
	if (strncmp(req->rcpts[i].address, "stray", 5) == 0 &&
	    !testagent_tried(req, req->rcpts + i))
	    return 1;
    return 0;
}

/* testagent_stray_reply - a reply for a queue ID no request named (a
 * new one), every recipient sent */
static void testagent_stray_reply(stream_t *client)
{
    attr_list_t *reply = attr_list_new();
    char id[QID_BUFSIZE];

    qid_new(id, (unsigned long)getpid());
    attr_add(reply, MAIL_ATTR_QUEUE_ID, id);
    for (size_t i = 0; i < DELIVER_MAX_RCPT; i++) {
	deliver_attr_add_i(reply, MAIL_ATTR_STATUS, i, "sent");
	deliver_attr_add_i(reply, MAIL_ATTR_DSN, i, "2.0.0");
	deliver_attr_add_i(reply, MAIL_ATTR_REASON, i, "test agent: stray reply");
    }
    (void)attr_write(client, reply);
    attr_list_free(&reply);
}

/* testagent_service - one request, or a batch read whole first */
static void testagent_service(stream_t *client, const char *service)
{
    deliver_request_t *reqs[DELIVER_MAX_BATCH];
    size_t n = 0;
    int stray = 0;

    if (deliver_request_read(client, &reqs[n]) != 1)
	return;
    n++;
    while (reqs[n - 1]->more && n < DELIVER_MAX_BATCH &&
	   deliver_request_next(client, &reqs[n]) == 1)
	n++;
    for (size_t k = 0; k < n; k++)
	stray |= testagent_stray(reqs[k]);
    if (stray)
	testagent_stray_reply(client);
    for (size_t k = 0; k < n; k++) {
	for (size_t i = 0; i < reqs[k]->rcpt_count; i++)
	    testagent_one(reqs[k], i);
	deliver_request_done(client, &reqs[k]);
    }
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.service = testagent_service,
    };

    return single_server_main(argc, argv, &params);
}
