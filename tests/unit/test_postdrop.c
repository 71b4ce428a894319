/*
 * test_postdrop.c - postdrop's reading and checking (pd_copy.c), as a
 * table: input records in, exit status and reason out, and for accepted
 * input the records that reach the maildrop file.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "unit_helpers.h"

#include "global/config.h"
#include "global/mail_proto.h"
#include "queue/record.h"
#include "util/mymalloc.h"
#include "../../tools/postdrop/postdrop.h"

/* put - one token "T=value" (or "T") as a record */
static void put(str_t *out, const char *tok)
{
    const char *v = tok[1] == '=' ? tok + 2 : "";

    rec_encode(out, tok[0], v, strlen(v));
}

/* records - "F=a R=b M L=x E" as record bytes ("%" is a space) */
static str_t *records(const char *spec, int repeat_last)
{
    str_t *out = str_new(100);
    char *copy = mr_strdup(spec), *cp = copy, *tok, *last = NULL;

    while ((tok = next_token(&cp, " ")) != NULL) {
	for (char *sp = tok; (sp = strchr(sp, '%')) != NULL;)
	    *sp = ' ';
	put(out, tok);
	last = tok;
    }
    while (last && repeat_last-- > 0)
	put(out, last);
    mr_free(copy);
    return out;
}

/* copy - run pd_copy on input; returns its status, the reason in why and
 * the records it wrote in written */
static int copy(const str_t *input, const qenv_limits_t *lim, str_t *why, str_t *written)
{
    char *in_path = mr_format("%s/input", unit_tmpdir());
    int fd = open(in_path, O_CREAT | O_RDWR | O_TRUNC, 0600), ret;
    const char *error;
    qfile_out_t *qo;
    stream_t *in;
    qenv_t q;
    char buf[4096];
    ssize_t n;

    assert_int_equal(write(fd, str_data(input), str_len(input)), (ssize_t)str_len(input));
    lseek(fd, 0, SEEK_SET);
    in = stream_open(fd);
    assert_non_null(qo = qfile_create(MAIL_QUEUE_MAILDROP, 0444, &error));
    qenv_init(&q, QENV_USER, lim);
    str_reset(why);
    ret = pd_copy(in, qo, &q, why);
    stream_flush(qo->stream);
    n = pread(stream_fd(qo->stream), buf, sizeof(buf), 0);
    str_setn(written, buf, n > 0 ? (size_t)n : 0);
    qfile_discard(&qo);
    stream_close(&in);
    mr_free(in_path);
    return ret;
}

static const struct {
    const char *in;
    int repeat;
    int status;
    const char *reason; /* or, when accepted, what is written */
} cases[] = {
    {"F=a@b R=c@d M L=hi E", 0, 0, "F=a@b R=c@d M L=hi E"},
    {"T=1.0 F=a@b R=c@d A=uid=0 A=envid=x A=client_addr=1.2.3.4 M L=hi E", 0, 0,
     "F=a@b R=c@d A=envid=x M L=hi E"},
    {"F=a@b R=c@d M L=hi", 0, EX_DATAERR, "input ends before the END record"},
    {"F=a@b R=c@d M L=hi E L=x", 0, EX_DATAERR, "data after the END record"},
    {"F=a@b R=c@d S=1 M E", 0, EX_DATAERR, "size record not allowed"},
    {"F=a@b R=c@d D=e M E", 0, EX_DATAERR, "done record not allowed"},
    {"F=a@b R=c@d R=e@f R=g@h", 0, EX_DATAERR, "too many recipients (smtpd_recipient_limit = 2)"},
    {"F=a@b R=c@d M C=", 60, EX_DATAERR,
     "message too large (message_size_limit = 100 "
     "bytes, envelope and record overhead included)"},
    {"F=a@b R=c@d M L=", 40, EX_DATAERR, "input ends before the END record"},
    {"F=a@b%c R=d M E", 0, 0, "F=a@b%c R=d M E"},
};

/* test_table - every row */
static void test_table(void **state)
{
    qenv_limits_t lim = {100, 2};
    str_t *why = str_new(100), *written = str_new(100), *in, *want;
    char *maildrop = mr_format("%s/%s", unit_tmpdir(), MAIL_QUEUE_MAILDROP);

    config_override("queue_directory", unit_tmpdir());
    assert_int_equal(mkdir(maildrop, 0700), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
	in = records(cases[i].in, cases[i].repeat);
	if (copy(in, &lim, why, written) != cases[i].status)
	    fail_msg("%s: status %d (%s)", cases[i].in, !cases[i].status, str_data(why));
	if (cases[i].status) {
	    assert_string_equal(str_data(why), cases[i].reason);
	} else {
	    want = records(cases[i].reason, 0);
	    assert_int_equal(str_len(written), str_len(want));
	    assert_memory_equal(str_data(written), str_data(want), str_len(want));
	    str_free(&want);
	}
	str_free(&in);
    }
    mr_free(maildrop);
    str_free(&why);
    str_free(&written);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
