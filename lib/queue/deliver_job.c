/*
 * deliver_job.c - the qmgr side of the delivery request protocol:
 * encode a request, decode and check an agent's reply, and a blocking
 * client for tools and tests. The protocol is in deliver_request.h.
 */
#include <stdio.h>
#include <string.h>

#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/deliver_request.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"

/* deliver_attr_add_i - add NAME.I=value */
void deliver_attr_add_i(attr_list_t *l, const char *name, size_t i, const char *value)
{
    char key[64];

    snprintf(key, sizeof(key), "%s.%zu", name, i);
    attr_add(l, key, value ? value : "");
}

/* deliver_attr_get_i - value of NAME.I or NULL */
static const char *deliver_attr_get_i(const attr_list_t *l, const char *name, size_t i)
{
    char key[64];

    snprintf(key, sizeof(key), "%s.%zu", name, i);
    return attr_get(l, key);
}

/* deliver_dsn_valid - X.Y.Z, class 2/4/5, subject and detail 1-3 digits */
int deliver_dsn_valid(const char *dsn)
{
    size_t n;

    if (dsn == NULL || (dsn[0] != '2' && dsn[0] != '4' && dsn[0] != '5') || dsn[1] != '.')
	return 0;
    dsn += 2;
    for (int part = 0; part < 2; part++) {
	n = strspn(dsn, "0123456789");
	if (n < 1 || n > 3 || dsn[n] != (part == 0 ? '.' : 0))
	    return 0;
	dsn += n + 1;
    }
    return 1;
}

/* deliver_job_encode - the request list */
void deliver_job_encode(attr_list_t *out, const deliver_job_t *job)
{
    attr_list_reset(out);
    attr_add(out, MAIL_ATTR_QUEUE_NAME, MAIL_QUEUE_ACTIVE);
    attr_add(out, MAIL_ATTR_QUEUE_ID, job->queue_id);
    attr_add(out, MAIL_ATTR_TRANSPORT, job->transport);
    attr_add(out, MAIL_ATTR_NEXTHOP, job->nexthop ? job->nexthop : "");
    attr_add(out, MAIL_ATTR_SENDER, job->sender ? job->sender : "");
    attr_addf(out, MAIL_ATTR_SIZE, "%lld", job->size < 0 ? 0 : job->size);
    attr_addf(out, MAIL_ATTR_ARRIVAL_TIME, "%ld.%06ld", job->arrival_sec, job->arrival_usec);
    attr_addf(out, MAIL_ATTR_ACTIVE_TIME, "%ld.%06ld", job->active_sec, job->active_usec);
    attr_add(out, MAIL_ATTR_ENVID, job->envid ? job->envid : "");
    attr_add(out, MAIL_ATTR_RET, job->ret ? job->ret : "");
    attr_addf(out, MAIL_ATTR_FLAGS, "%d", job->flags);
    attr_addf(out, MAIL_ATTR_RCPT_COUNT, "%zu", job->rcpt_count);
    if (job->more)
	attr_add(out, MAIL_ATTR_MORE, "1");
    for (size_t i = 0; i < job->rcpt_count; i++) {
	char off[32];

	deliver_attr_add_i(out, MAIL_ATTR_RCPT, i, job->rcpts[i].address);
	deliver_attr_add_i(out, MAIL_ATTR_ORCPT, i, job->rcpts[i].orcpt);
	deliver_attr_add_i(out, MAIL_ATTR_NOTIFY, i, job->rcpts[i].notify);
	snprintf(off, sizeof(off), "%lld", (long long)job->rcpts[i].offset);
	deliver_attr_add_i(out, MAIL_ATTR_OFFSET, i, off);
    }
}

/* deliver_result_set - fill one result (reason bounded, controls blanked) */
static void deliver_result_set(deliver_result_t *res, int status, const char *dsn,
			       const char *reason)
{
    size_t len = strlen(reason);

    res->status = status;
    mr_strlcpy(res->dsn, dsn, sizeof(res->dsn));
    mr_free(res->reason);
    res->reason = mr_strndup(reason, len > DELIVER_MAX_REASON ? DELIVER_MAX_REASON : len);
    for (char *cp = res->reason; *cp; cp++)
	if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
	    *cp = ' ';
}

/* deliver_status_word - "sent" etc. to DELIVER_STAT_*, 0 if unknown */
static int deliver_status_word(const char *word)
{
    if (word == NULL)
	return 0;
    if (strcmp(word, "sent") == 0)
	return DELIVER_STAT_SENT;
    if (strcmp(word, "deferred") == 0)
	return DELIVER_STAT_DEFERRED;
    if (strcmp(word, "bounced") == 0)
	return DELIVER_STAT_BOUNCED;
    return 0;
}

/* deliver_reply_corrupt - did the agent find the queue file corrupt? */
int deliver_reply_corrupt(const attr_list_t *reply)
{
    const char *v = attr_get(reply, MAIL_ATTR_CORRUPT);

    return v != NULL && strcmp(v, "1") == 0;
}

/* deliver_reply_queue_id - the queue_id of a reply, or NULL */
const char *deliver_reply_queue_id(const attr_list_t *reply)
{
    return attr_get(reply, MAIL_ATTR_QUEUE_ID);
}

/* deliver_reply_decode - per-recipient outcomes, checked */
size_t deliver_reply_decode(const attr_list_t *reply, deliver_result_t *results, size_t count)
{
    static const char class_of[] = {0, '2', '4', '5'};
    size_t good = 0;

    for (size_t i = 0; i < count; i++) {
	int st = deliver_status_word(deliver_attr_get_i(reply, MAIL_ATTR_STATUS, i));
	const char *dsn = deliver_attr_get_i(reply, MAIL_ATTR_DSN, i);
	const char *reason = deliver_attr_get_i(reply, MAIL_ATTR_REASON, i);

	if (st == 0 || !deliver_dsn_valid(dsn) || dsn[0] != class_of[st] || reason == NULL) {
	    deliver_result_set(results + i, DELIVER_STAT_DEFERRED, "4.3.0",
			       "malformed reply from delivery agent");
	    continue;
	}
	deliver_result_set(results + i, st, dsn, reason);
	good++;
    }
    return good;
}

/* deliver_results_fail - everything deferred for one reason */
void deliver_results_fail(deliver_result_t *results, size_t count, const char *dsn,
			  const char *reason)
{
    for (size_t i = 0; i < count; i++)
	deliver_result_set(results + i, DELIVER_STAT_DEFERRED, dsn, reason);
}

/* deliver_results_free - free the reasons */
void deliver_results_free(deliver_result_t *results, size_t count)
{
    for (size_t i = 0; i < count; i++) {
	mr_free(results[i].reason);
	results[i].reason = NULL;
    }
}

/* deliver_call - connect, handshake, request, reply (blocking) */
int deliver_call(const char *socket_path, const deliver_job_t *job, deliver_result_t *results,
		 int timeout)
{
    attr_list_t *l = attr_list_new();
    const char *why = NULL;
    stream_t *s = NULL;
    int fd, ret = -1;

    if ((fd = sock_connect_unix(mail_queue_path(socket_path), timeout, &why)) >= 0) {
	s = stream_open(fd);
	stream_set_timeout(s, timeout);
	deliver_job_encode(l, job);
	if (attr_expect_protocol(s, MAIL_PROTO_DELIVERY, &why) < 0)
	    ;
	else if (attr_write(s, l) < 0 || attr_read(s, l) != 1)
	    why = "lost connection with delivery agent";
	else
	    ret = 0;
    }
    if (ret == 0)
	deliver_reply_decode(l, results, job->rcpt_count);
    else
	deliver_results_fail(results, job->rcpt_count, "4.3.0", why);
    if (s)
	stream_close(&s);
    attr_list_free(&l);
    return ret;
}
