/*
 * test_deliver_request.c - the delivery request protocol (both sides over
 * a socketpair, with a real queue file) and the bounce/defer log format.
 */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "global/mail_proto.h"
#include "queue/deliver_request.h"
#include "queue/qfile.h"
#include "queue/qlog.h"
#include "queue/record.h"
#include "util/attr.h"
#include "util/mymalloc.h"
#include "util/str.h"

static char qid[QID_BUFSIZE];
static off_t offsets[4];
static int seal_mode; /* make_queue_file: 0 no seal, 1 a seal, 2 a wrong one */
static uint32_t sum;  /* make_queue_file: of the records so far */

/* put - one record into the file and the sum */
static void put(qfile_out_t *qo, int type, const char *value)
{
    rec_puts(qo->stream, type, value);
    sum = rec_sum(sum, type, value, strlen(value));
}

/* unit_config - the queue in the temp dir; mail_owner is whoever runs the
 * test (as root the library insists on files owned by mail_owner) */
static void unit_config(void)
{
    config_override("queue_directory", unit_tmpdir());
    config_override("mail_owner", getpwuid(geteuid())->pw_name);
}

/* make_queue_file - active/ID with four recipients, the last already done */
static void make_queue_file(void)
{
    static const char *rcpts[] = {"a@example.com", "b@example.com", "c@example.com",
				  "d@example.com"};
    const char *why;
    char dir[400];
    qfile_out_t *qo;
    off_t off = 0;

    unit_config();
    snprintf(dir, sizeof(dir), "%s/active", unit_tmpdir());
    mkdir(dir, 0700);
    assert_non_null(qo = qfile_create(MAIL_QUEUE_ACTIVE, 0600, &why));
    sum = 0;
    put(qo, REC_TYPE_TIME, "1700000000.000001");
    off += rec_wire_size(17);
    put(qo, REC_TYPE_SENDER, "s@example.org");
    off += rec_wire_size(13);
    for (int i = 0; i < 4; i++) {
	offsets[i] = off;
	put(qo, i == 3 ? REC_TYPE_DONE : REC_TYPE_RCPT, rcpts[i]);
	off += rec_wire_size(strlen(rcpts[i]));
    }
    put(qo, REC_TYPE_MESG, "");
    put(qo, REC_TYPE_NORM, "Subject: x");
    if (seal_mode) {
	char seal[QFILE_SEAL_BUFSIZE];

	rec_puts(qo->stream, REC_TYPE_END, qfile_seal_format(seal, qo->id, sum ^ (seal_mode == 2)));
    } else {
	rec_puts(qo->stream, REC_TYPE_END, "");
    }
    assert_int_equal(qfile_commit(qo, &why), 0);
    mr_strlcpy(qid, qo->id, sizeof(qid));
    qfile_discard(&qo);
}

/* job_for - a job for recipients given by index */
static void job_for(deliver_job_t *job, deliver_job_rcpt_t *jr, const int *idx, size_t n)
{
    static const char *rcpts[] = {"a@example.com", "b@example.com", "c@example.com",
				  "d@example.com"};

    memset(job, 0, sizeof(*job));
    job->queue_id = qid;
    job->transport = "local";
    job->nexthop = "example.com";
    job->sender = "s@example.org";
    job->size = 10;
    job->arrival_sec = 1700000000;
    job->active_sec = 1700000001;
    for (size_t i = 0; i < n; i++) {
	jr[i].address = rcpts[idx[i]];
	jr[i].orcpt = i == 0 ? "rfc822;A@other.example" : NULL;
	jr[i].notify = "FAILURE";
	jr[i].offset = offsets[idx[i]];
    }
    job->rcpts = jr;
    job->rcpt_count = n;
}

/* exchange - write the request list to the agent end, run agent_read */
static int exchange(const attr_list_t *req, int *fds, stream_t **agent, stream_t **qmgr,
		    deliver_request_t **dr)
{
    const char *why;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    *agent = stream_open(fds[0]);
    *qmgr = stream_open(fds[1]);
    stream_set_timeout(*agent, 5);
    stream_set_timeout(*qmgr, 5);
    assert_int_equal(attr_write(*qmgr, req), 0);
    int r = deliver_request_read(*agent, dr);

    assert_int_equal(attr_expect_protocol(*qmgr, MAIL_PROTO_DELIVERY, &why), 1);
    return r;
}

typedef struct seen {
    int count;
    char last_rcpt[64], last_action[32], last_orcpt[64];
} seen_t;

/* count_entry - qlog_walk callback */
static int count_entry(const qlog_entry_t *e, void *context)
{
    seen_t *s = context;

    s->count++;
    mr_strlcpy(s->last_rcpt, e->rcpt, sizeof(s->last_rcpt));
    mr_strlcpy(s->last_action, e->action, sizeof(s->last_action));
    mr_strlcpy(s->last_orcpt, e->orcpt, sizeof(s->last_orcpt));
    return 0;
}

/* test_round_trip - sent, bounced, deferred, already done */
static void test_round_trip(void **state)
{
    const int idx[] = {0, 1, 2, 3};
    deliver_job_rcpt_t jr[4];
    deliver_job_t job;
    deliver_request_t *dr = NULL;
    deliver_result_t res[4] = {{0}};
    attr_list_t *l = attr_list_new();
    stream_t *agent, *qmgr;
    qfile_t *qf;
    seen_t seen = {0};
    str_t *path = str_new(100);
    const char *why;
    int fds[2];

    make_queue_file();
    job_for(&job, jr, idx, 4);
    deliver_job_encode(l, &job);
    assert_int_equal(exchange(l, fds, &agent, &qmgr, &dr), 1);
    /* the done recipient is not handed to the agent */
    assert_int_equal(dr->rcpt_count, 3);
    assert_string_equal(dr->rcpts[0].orcpt, "rfc822;A@other.example");
    assert_string_equal(dr->transport, "local");
    assert_int_equal(deliver_sent(dr, 0, "local", "2.0.0", "delivered to maildir"), 0);
    assert_int_equal(deliver_bounced(dr, 1, "local", "5.1.1", "unknown user: \"b\"\r\n"), 0);
    assert_int_equal(deliver_deferred(dr, 2, "local", "4.2.2", "mailbox full"), 0);
    assert_int_equal(deliver_request_done(agent, &dr), 0);
    assert_null(dr);
    assert_int_equal(attr_read(qmgr, l), 1);
    assert_int_equal(deliver_reply_decode(l, res, 4), 4);
    assert_int_equal(res[0].status, DELIVER_STAT_SENT);
    assert_int_equal(res[1].status, DELIVER_STAT_BOUNCED);
    assert_string_equal(res[1].dsn, "5.1.1");
    assert_string_equal(res[1].reason, "unknown user: \"b\"  ");
    assert_int_equal(res[2].status, DELIVER_STAT_DEFERRED);
    assert_string_equal(res[3].reason, "already delivered");
    deliver_results_free(res, 4);
    /* the queue file: a and b done, c not */
    assert_int_equal(qfile_open(qfile_abspath(path, MAIL_QUEUE_ACTIVE, qid), 0, &qf, &why),
		     QFILE_OK);
    assert_true(qf->rcpts[0].done);
    assert_true(qf->rcpts[1].done);
    assert_false(qf->rcpts[2].done);
    qfile_close(&qf);
    assert_int_equal(qlog_walk(MAIL_QUEUE_BOUNCE, qid, count_entry, &seen, &why), 1);
    assert_string_equal(seen.last_rcpt, "b@example.com");
    assert_string_equal(seen.last_action, "failed");
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(qlog_walk(MAIL_QUEUE_DEFER, qid, count_entry, &seen, &why), 1);
    assert_string_equal(seen.last_rcpt, "c@example.com");
    assert_string_equal(seen.last_action, "delayed");
    stream_close(&agent);
    stream_close(&qmgr);
    attr_list_free(&l);
    str_free(&path);
}

/* refused - a tampered request is answered deferred 4.3.5 for all */
static void refused2(const char *name, const char *value, const char *name2, const char *value2,
		     const char *what)
{
    const int idx[] = {0, 1};
    deliver_job_rcpt_t jr[2];
    deliver_job_t job;
    deliver_request_t *dr = NULL;
    deliver_result_t res[2] = {{0}};
    attr_list_t *l = attr_list_new();
    stream_t *agent, *qmgr;
    int fds[2];

    job_for(&job, jr, idx, 2);
    deliver_job_encode(l, &job);
    for (size_t i = 0; i < l->count; i++)
	if (strcmp(l->items[i].name, name) == 0 ||
	    (name2 && strcmp(l->items[i].name, name2) == 0)) {
	    mr_free(l->items[i].value);
	    l->items[i].value = mr_strdup(strcmp(l->items[i].name, name) == 0 ? value : value2);
	}
    if (exchange(l, fds, &agent, &qmgr, &dr) != -1)
	fail_msg("not refused: %s", what);
    assert_int_equal(attr_read(qmgr, l), 1);
    deliver_reply_decode(l, res, 2);
    assert_int_equal(res[0].status, DELIVER_STAT_DEFERRED);
    assert_string_equal(res[1].dsn, "4.3.5");
    deliver_results_free(res, 2);
    stream_close(&agent);
    stream_close(&qmgr);
    attr_list_free(&l);
}

/* refused - one attribute tampered with */
static void refused(const char *name, const char *value, const char *what)
{
    refused2(name, value, NULL, NULL, what);
}

/* test_hostile_requests - every check on the agent side */
static void test_hostile_requests(void **state)
{
    char off[32];

    make_queue_file();
    refused("queue_name", "deferred", "other queue");
    refused("queue_id", "../../etc/passwd", "path as queue id");
    refused("offset.1", "3", "offset not at a record");
    snprintf(off, sizeof(off), "%lld", (long long)offsets[0]);
    refused2("offset.1", off, "rcpt.1", "a@example.com", "same recipient twice");
    refused("rcpt.1", "x@example.com", "address differs");
    refused("rcpt.0", "a@example.com\001", "control character");
    refused("rcpt_count", "100000", "too many recipients");
    refused("size", "-1", "negative size");
    refused("arrival_time", "1.2.3", "bad time");
    refused("flags", "x", "bad flags");
}

/* test_batch - two requests on one connection (more=1 on the first),
 * answered in the other order, each reply naming its queue ID; a bad
 * more value is refused */
static void test_batch(void **state)
{
    const int first[] = {0}, second[] = {1};
    char qid1[QID_BUFSIZE];
    deliver_job_rcpt_t jr1[1], jr2[1];
    deliver_job_t job1, job2;
    deliver_request_t *dr1 = NULL, *dr2 = NULL;
    deliver_result_t res[1] = {{0}};
    attr_list_t *l1 = attr_list_new(), *l2 = attr_list_new();
    stream_t *agent, *qmgr;
    const char *why;
    int fds[2];

    make_queue_file();
    mr_strlcpy(qid1, qid, sizeof(qid1));
    job_for(&job1, jr1, first, 1);
    job1.queue_id = qid1;
    job1.more = 1;
    make_queue_file();
    job_for(&job2, jr2, second, 1);
    deliver_job_encode(l1, &job1);
    deliver_job_encode(l2, &job2);
    assert_string_equal(attr_get(l1, MAIL_ATTR_MORE), "1");
    assert_null(attr_get(l2, MAIL_ATTR_MORE));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    agent = stream_open(fds[0]);
    qmgr = stream_open(fds[1]);
    stream_set_timeout(agent, 5);
    stream_set_timeout(qmgr, 5);
    assert_int_equal(attr_write(qmgr, l1), 0);
    assert_int_equal(attr_write(qmgr, l2), 0);
    assert_int_equal(deliver_request_read(agent, &dr1), 1);
    assert_int_equal(dr1->more, 1);
    assert_string_equal(dr1->queue_id, qid1);
    assert_int_equal(deliver_request_next(agent, &dr2), 1);
    assert_int_equal(dr2->more, 0);
    assert_string_equal(dr2->queue_id, qid);
    assert_int_equal(deliver_sent(dr2, 0, "local", "2.0.0", "second"), 0);
    assert_int_equal(deliver_request_done(agent, &dr2), 0);
    assert_int_equal(deliver_deferred(dr1, 0, "local", "4.2.0", "first"), 0);
    assert_int_equal(deliver_request_done(agent, &dr1), 0);
    /* the handshake, then the second request's reply first, named */
    assert_int_equal(attr_expect_protocol(qmgr, MAIL_PROTO_DELIVERY, &why), 1);
    assert_int_equal(attr_read(qmgr, l1), 1);
    assert_string_equal(deliver_reply_queue_id(l1), qid);
    assert_int_equal(deliver_reply_decode(l1, res, 1), 1);
    assert_int_equal(res[0].status, DELIVER_STAT_SENT);
    assert_int_equal(attr_read(qmgr, l1), 1);
    assert_string_equal(deliver_reply_queue_id(l1), qid1);
    assert_int_equal(deliver_reply_decode(l1, res, 1), 1);
    assert_int_equal(res[0].status, DELIVER_STAT_DEFERRED);
    deliver_results_free(res, 1);
    stream_close(&agent);
    stream_close(&qmgr);
    /* qmgr's end open: not gone; closed: gone */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    agent = stream_open(fds[0]);
    qmgr = stream_open(fds[1]);
    assert_int_equal(deliver_request_client_gone(agent), 0);
    stream_close(&qmgr);
    assert_int_equal(deliver_request_client_gone(agent), 1);
    stream_close(&agent);
    /* more must be 0 or 1 */
    attr_add(l2, MAIL_ATTR_MORE, "yes");
    assert_int_equal(exchange(l2, fds, &agent, &qmgr, &dr2), -1);
    assert_int_equal(attr_read(qmgr, l1), 1);
    assert_string_equal(deliver_reply_queue_id(l1), qid);
    stream_close(&agent);
    stream_close(&qmgr);
    attr_list_free(&l1);
    attr_list_free(&l2);
}

/* test_hostile_replies - the qmgr side never believes a bad reply */
static void test_hostile_replies(void **state)
{
    attr_list_t *l = attr_list_new();
    deliver_result_t res[3] = {{0}};

    attr_add(l, "status.0", "sent");
    attr_add(l, "dsn.0", "5.0.0"); /* class does not fit */
    attr_add(l, "reason.0", "x");
    attr_add(l, "status.1", "delivered"); /* unknown word */
    attr_add(l, "dsn.1", "2.0.0");
    attr_add(l, "reason.1", "x");
    /* 2 missing */
    assert_int_equal(deliver_reply_decode(l, res, 3), 0);
    for (int i = 0; i < 3; i++) {
	assert_int_equal(res[i].status, DELIVER_STAT_DEFERRED);
	assert_string_equal(res[i].dsn, "4.3.0");
    }
    deliver_results_free(res, 3);
    assert_true(deliver_dsn_valid("2.0.0"));
    assert_true(deliver_dsn_valid("5.7.123"));
    assert_false(deliver_dsn_valid("3.0.0"));
    assert_false(deliver_dsn_valid("5.0"));
    assert_false(deliver_dsn_valid("5.0.0.0"));
    assert_false(deliver_dsn_valid("5.1234.0"));
    attr_list_free(&l);
}

/* test_qlog_format - exact bytes, escapes, torn tail ignored */
static void test_qlog_format(void **state)
{
    qlog_entry_t e = {
	.rcpt = "u@example.com",
	.orcpt = "rfc822;U@example.com",
	.notify = "FAILURE,DELAY",
	.offset = 42,
	.dsn = "4.4.1",
	.action = "delayed",
	.reason = "connect to mx: 100% refused\nnext",
	.relay = "none",
	.time = 1700000000,
    };
    str_t *s = str_new(100), *path = str_new(100);
    seen_t seen = {0};
    const char *why;
    FILE *fp;

    unit_config();
    qlog_format(s, &e);
    assert_string_equal(str_data(s), "rcpt=u@example.com\norcpt=rfc822;U@example.com\n"
				     "notify=FAILURE,DELAY\noffset=42\ndsn=4.4.1\naction=delayed\n"
				     "reason=connect to mx: 100%25 refused%0Anext\nrelay=none\n"
				     "time=1700000000\n\n");
    assert_int_equal(qlog_walk(MAIL_QUEUE_DEFER, "0TOYSF275106IT99", count_entry, &seen, &why), 0);
    assert_int_equal(qlog_append(MAIL_QUEUE_DEFER, "0TOYSF275106IT99", &e, 0, &why), 0);
    e.rcpt = "v@example.com";
    assert_int_equal(qlog_append(MAIL_QUEUE_DEFER, "0TOYSF275106IT99", &e, 1, &why), 0);
    /* a writer that died mid-record */
    fp = fopen(qfile_abspath(path, MAIL_QUEUE_DEFER, "0TOYSF275106IT99"), "a");
    fputs("rcpt=w@example.com\nreas", fp);
    fclose(fp);
    assert_int_equal(qlog_walk(MAIL_QUEUE_DEFER, "0TOYSF275106IT99", count_entry, &seen, &why), 2);
    assert_string_equal(seen.last_rcpt, "v@example.com");
    assert_string_equal(seen.last_orcpt, "rfc822;U@example.com");
    assert_int_equal(qlog_remove(MAIL_QUEUE_DEFER, "0TOYSF275106IT99", &why), 0);
    assert_int_equal(qlog_remove(MAIL_QUEUE_DEFER, "0TOYSF275106IT99", &why), 0);
    str_free(&s);
    str_free(&path);
}

/* corrupt_reply - the agent's reply: corrupt=1 and both deferred 4.3.0 */
static void corrupt_reply(stream_t *qmgr)
{
    deliver_result_t res[2] = {{0}};
    attr_list_t *l = attr_list_new();

    assert_int_equal(attr_read(qmgr, l), 1);
    assert_true(deliver_reply_corrupt(l));
    assert_int_equal(deliver_reply_decode(l, res, 2), 2);
    for (int i = 0; i < 2; i++) {
	assert_int_equal(res[i].status, DELIVER_STAT_DEFERRED);
	assert_string_equal(res[i].dsn, "4.3.0");
    }
    deliver_results_free(res, 2);
    attr_list_free(&l);
}

/* test_corrupt_file - a file whose seal does not match is refused with
 * corrupt=1; so is one whose content changed after the agent opened it
 * (found by the content reader at END) */
static void test_corrupt_file(void **state)
{
    const int idx[] = {0, 1};
    deliver_job_rcpt_t jr[2];
    deliver_job_t job;
    deliver_request_t *dr = NULL;
    attr_list_t *l = attr_list_new();
    stream_t *agent, *qmgr;
    str_t *line = str_new(100);
    const char *why;
    int fds[2], complete;

    seal_mode = 2;
    make_queue_file();
    job_for(&job, jr, idx, 2);
    deliver_job_encode(l, &job);
    assert_int_equal(exchange(l, fds, &agent, &qmgr, &dr), -1);
    corrupt_reply(qmgr);
    stream_close(&agent);
    stream_close(&qmgr);

    seal_mode = 1;
    make_queue_file();
    job_for(&job, jr, idx, 2);
    attr_list_free(&l);
    l = attr_list_new();
    deliver_job_encode(l, &job);
    assert_int_equal(exchange(l, fds, &agent, &qmgr, &dr), 1);
    assert_false(deliver_reply_corrupt(l));
    assert_int_equal(pwrite(dr->qf->fd, "y", 1, dr->qf->content_offset + 11), 1);
    while (qfile_line(dr->qf, line, 100, &complete, &why) > 0)
	;
    assert_true(dr->qf->damaged);
    for (size_t i = 0; i < dr->rcpt_count; i++)
	assert_int_equal(deliver_deferred(dr, i, "local", "4.3.0", "%s", why), 0);
    assert_int_equal(deliver_request_done(agent, &dr), 0);
    corrupt_reply(qmgr);
    seal_mode = 0;
    stream_close(&agent);
    stream_close(&qmgr);
    attr_list_free(&l);
    str_free(&line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_hostile_requests),
	cmocka_unit_test(test_batch),       cmocka_unit_test(test_hostile_replies),
	cmocka_unit_test(test_qlog_format), cmocka_unit_test(test_corrupt_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
