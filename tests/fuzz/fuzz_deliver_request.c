/*
 * fuzz_deliver_request.c - libFuzzer target for the agent side of the
 * delivery request protocol: the input is what qmgr sends, read by
 * deliver_request_read against a real queue file (active/0TP5Z31CHPB6IYXF,
 * recipients at offsets 34 and 50; the seed in corpus/ is a valid
 * request for them). Every recipient handed out is deferred and the reply
 * written; the same input is also decoded as an agent's reply.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <ftw.h>
#include <pwd.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "queue/deliver_request.h"
#include "queue/qfile.h"
#include "queue/qlog.h"
#include "queue/record.h"
#include "util/safe_open.h"

#define FUZZ_QID "0TP5Z31CHPB6IYXF"

static char fuzz_dir[] = "/tmp/fuzz-deliver.XXXXXX";

/* fuzz_rm - nftw callback: remove one entry */
static int fuzz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* fuzz_cleanup - remove the queue directory at exit */
static void fuzz_cleanup(void)
{
    (void)nftw(fuzz_dir, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* fuzz_setup - a queue directory with one queue file, once */
static void fuzz_setup(void)
{
    static int done;
    str_t *img, *path;
    FILE *fp;

    if (done++)
	return;
    img = str_new(100);
    path = str_new(100);
    if (mkdtemp(fuzz_dir) == NULL)
	abort();
    atexit(fuzz_cleanup);
    config_override("queue_directory", fuzz_dir);
    config_override("mail_owner", getpwuid(geteuid())->pw_name);
    rec_encode(img, REC_TYPE_TIME, "1700000000.000001", 17); /* 0..20 */
    rec_encode(img, REC_TYPE_SENDER, "s@example.org", 13);   /* 20..34 */
    rec_encode(img, REC_TYPE_RCPT, "a@example.com", 13);     /* 34..49 */
    rec_encode(img, REC_TYPE_RCPT, "bb@example.com", 14);    /* 49..65 */
    rec_encode(img, REC_TYPE_MESG, "", 0);
    rec_encode(img, REC_TYPE_NORM, "Subject: x", 10);
    rec_encode(img, REC_TYPE_END, "", 0);
    qfile_abspath(path, MAIL_QUEUE_ACTIVE, FUZZ_QID);
    if (qfile_mkdirs(str_data(path)) < 0 || (fp = fopen(str_data(path), "w")) == NULL)
	abort();
    fwrite(str_data(img), 1, str_len(img), fp);
    fclose(fp);
    chmod(str_data(path), 0700); /* the ready mark */
    str_free(&img);
    str_free(&path);
}

/* fuzz_agent - the input as a request */
static void fuzz_agent(const uint8_t *data, size_t len)
{
    deliver_request_t *req;
    stream_t *agent;
    int sv[2];
    const char *why;

    if (len > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
	return;
    if (write_all(sv[1], data, len) < 0)
	abort();
    shutdown(sv[1], SHUT_WR);
    agent = stream_open(sv[0]);
    stream_set_timeout(agent, 1);
    if (deliver_request_read(agent, &req) == 1) {
	if (req->rcpt_count > req->total || strcmp(req->queue_id, FUZZ_QID) != 0)
	    abort();
	for (size_t i = 0; i < req->rcpt_count; i++)
	    deliver_deferred(req, i, "fuzz", "4.0.0", "deferred by the fuzzer");
	deliver_request_done(agent, &req);
	qlog_remove(MAIL_QUEUE_DEFER, FUZZ_QID, &why);
    }
    stream_close(&agent);
    close(sv[1]);
}

/* fuzz_reply - the input as an agent's reply */
static void fuzz_reply(const uint8_t *data, size_t len)
{
    int fd = memfd_create("reply", 0);
    attr_list_t *l = attr_list_new();
    deliver_result_t res[4] = {{0}};
    stream_t *s;

    if (fd < 0 || write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0)
	abort();
    s = stream_open(fd);
    if (attr_read(s, l) == 1) {
	deliver_reply_decode(l, res, 4);
	for (int i = 0; i < 4; i++)
	    if (res[i].status < DELIVER_STAT_SENT || res[i].status > DELIVER_STAT_BOUNCED ||
		!deliver_dsn_valid(res[i].dsn) || strlen(res[i].reason) > DELIVER_MAX_REASON)
		abort();
	deliver_results_free(res, 4);
    }
    stream_close(&s);
    attr_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    fuzz_setup();
    fuzz_agent(data, len);
    fuzz_reply(data, len);
    return 0;
}
