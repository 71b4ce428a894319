/*
 * test_qshow.c - the queue listing (lib/queue/qshow.c: mailroom-queue
 * -p and -j, and showq, which share it): one golden listing of planted queue files
 * covering the queue markers, done recipients, a delay reason, a corrupt
 * file (skipped), a maildrop file over postdrop's limits (skipped), and
 * the empty queue.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "global/mail_proto.h"
#include "queue/qshow.h"
#include "util/stream.h"

/* plant - write a file at the place qfile_path gives for queue/id */
static void plant(const char *queue, const char *id, const str_t *data)
{
    str_t *rel = str_new(64);
    char *path, *dir;
    int fd;

    qfile_path(rel, queue, id);
    path = mr_format("%s/%s", unit_tmpdir(), str_data(rel));
    dir = mr_strdup(path);
    for (char *cp = dir + strlen(unit_tmpdir()) + 1; (cp = strchr(cp, '/')) != NULL; cp++) {
	*cp = 0;
	(void)mkdir(dir, 0700);
	*cp = '/';
    }
    /* 0700: the owner's execute bit marks a queue file ready */
    assert_true((fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0700)) >= 0);
    assert_int_equal(write(fd, str_data(data), str_len(data)), (ssize_t)str_len(data));
    close(fd);
    mr_free(dir);
    mr_free(path);
    str_free(&rel);
}

/* message - a queue file image; rcpts is "addr,addr" with a leading "!"
 * marking a delivered one; no SIZE record when size is NULL */
static str_t *message(const char *sender, const char *rcpts, const char *size)
{
    str_t *s = str_new(200);
    char *copy = mr_strdup(rcpts), *cp = copy, *tok;

    if (size)
	rec_encode(s, REC_TYPE_SIZE, size, strlen(size));
    rec_encode(s, REC_TYPE_TIME, "1700000000.000001", 17);
    rec_encode(s, REC_TYPE_SENDER, sender, strlen(sender));
    while ((tok = next_token(&cp, ",")) != NULL)
	rec_encode(s, *tok == '!' ? REC_TYPE_DONE : REC_TYPE_RCPT, tok + (*tok == '!'),
		   strlen(tok + (*tok == '!')));
    rec_encode(s, REC_TYPE_MESG, "", 0);
    rec_encode(s, REC_TYPE_NORM, "x", 1);
    rec_encode(s, REC_TYPE_END, "", 0);
    mr_free(copy);
    return s;
}

/* listing - run mq_show into a file and return what it wrote */
static char *listing(int json)
{
    char *path = mr_format("%s/out", unit_tmpdir());
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    stream_t *s = stream_open(dup(fd));
    char buf[8192];
    ssize_t n;

    assert_int_equal(qshow_list(s, json), 0);
    stream_close(&s);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    assert_true(n >= 0);
    buf[n] = 0;
    close(fd);
    mr_free(path);
    return mr_strdup(buf);
}

static const char golden[] =
    "-Queue ID-        --Size-- ---Arrival Time----  -Sender/Recipient-------\n"
    "0TP5Z9T3Y606KRB1       100 Tue Nov 14 22:13:20  s@example.org\n"
    "                                                b@example.net\n"
    "\n"
    "0TP5Z9T3Y606KRB2*     2000 Tue Nov 14 22:13:20  MAILER-DAEMON\n"
    "                                                c@example.net\n"
    "\n"
    "0TP5Z9T3Y606KRB3      1000 Tue Nov 14 22:13:20  s@example.org\n"
    "       (connect to mx.example.net: Connection refused)\n"
    "                                                d@example.net\n"
    "                                                e@example.net\n"
    "\n"
    "0TP5Z9T3Y606KRB4!       50 Tue Nov 14 22:13:20  s@example.org\n"
    "                                                f@example.net\n"
    "\n"
    "-- 4 Kbytes in 4 Requests.\n";

/* test_golden - the planted queue, listed */
static void test_golden(void **state)
{
    str_t *s, *bad = str_new(10), *defer = str_new(100);
    char *out;

    setenv("TZ", "UTC", 1);
    config_override("queue_directory", unit_tmpdir());
    config_override("smtpd_recipient_limit", "3");
    out = listing(0);
    assert_string_equal(out, "Mail queue is empty\n");
    mr_free(out);
    plant(MAIL_QUEUE_INCOMING, "0TP5Z9T3Y606KRB1",
	  s = message("s@example.org", "!a@example.net,b@example.net", "100"));
    str_free(&s);
    plant(MAIL_QUEUE_ACTIVE, "0TP5Z9T3Y606KRB2", s = message("", "c@example.net", "2000"));
    str_free(&s);
    plant(MAIL_QUEUE_DEFERRED, "0TP5Z9T3Y606KRB3",
	  s = message("s@example.org", "d@example.net,e@example.net", "1000"));
    str_free(&s);
    str_set(defer, "rcpt=d@example.net\nreason=connect to mx.example.net: Connection refused\n\n");
    plant(MAIL_QUEUE_DEFER, "0TP5Z9T3Y606KRB3", defer);
    plant(MAIL_QUEUE_HOLD, "0TP5Z9T3Y606KRB4", s = message("s@example.org", "f@example.net", "50"));
    str_free(&s);
    str_set(bad, "garbage");
    plant(MAIL_QUEUE_INCOMING, "0TP5Z9T3Y606KRB5", bad);
    plant(MAIL_QUEUE_MAILDROP, "0TP5Z9T3Y606KRB6",
	  s = message("s@example.org", "a@x,b@x,c@x,d@x", NULL)); /* > limit */
    str_free(&s);
    out = listing(0);
    assert_string_equal(out, golden);
    mr_free(out);
    out = listing(1);
    assert_non_null(strstr(out,
			   "{\"queue_name\": \"deferred\", \"queue_id\": "
			   "\"0TP5Z9T3Y606KRB3\", \"arrival_time\": 1700000000, "
			   "\"message_size\": 1000, \"sender\": \"s@example.org\", "
			   "\"recipients\": [{\"address\": \"d@example.net\", \"delay_reason\": "
			   "\"connect to mx.example.net: Connection refused\"}, "
			   "{\"address\": \"e@example.net\"}]}\n"));
    assert_null(strstr(out, "a@example.net")); /* delivered */
    mr_free(out);
    str_free(&bad);
    str_free(&defer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_golden),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
