/*
 * test_qenv.c - the envelope validator (lib/queue/qenv.h), as a table:
 * each row is a source, a record sequence and the expected verdicts,
 * record by record, with the reason of a refusal. Rows read like the
 * file they describe: "F=a@b R=c@d M E" is SENDER a@b, RCPT c@d, MESG,
 * END; "%" stands for a space inside a value, "^X" for control-X.
 * Verdicts: K keep, S skip, R refuse (the sequence stops there).
 */
#include <string.h>

#include "unit_helpers.h"
#include "queue/qenv.h"
#include "queue/record.h"
#include "util/str.h"

typedef struct qenv_case {
    int source;
    const char *records;
    const char *verdicts; /* one letter per record */
    const char *error;    /* reason of the refusal, or NULL */
} qenv_case_t;

#define U QENV_USER
#define L QENV_LOCAL
#define D QENV_DAEMON
#define Q QENV_QUEUE

static const qenv_case_t cases[] = {
    /* well-formed, each source */
    {U, "F=a@b R=c@d M L=hi E", "KKKKK", NULL},
    {L, "F=a@b R=c@d M L=hi E", "KKKKK", NULL},
    {D, "F=a@b R=c@d M L=hi E", "KKKKK", NULL},
    {Q, "T=1.0 S=5 F=a@b R=c@d D=e@f M L=hi E", "KKKKKKKK", NULL},
    {U, "F= R=c@d M E", "KKKK", NULL}, /* null sender */
    {U, "F=a R=c O=rfc822;c N=NEVER M C=x L=y E", "KKKKKKKK", NULL},
    {U, "F=a R=c N=NEVER O=rfc822;c M E", "KKKKKK", NULL},
    /* stamps: the queue's own, skipped or refused elsewhere */
    {U, "T=1.0 F=a R=c M E", "SKKKK", NULL},
    {U, "S=1 F=a R=c M E", "R", "size record not allowed"},
    {L, "S=1 T=2.0 F=a R=c M E", "SSKKKK", NULL},
    {U, "F=a D=c M E", "KR", "done record not allowed"},
    {D, "F=a D=c M E", "KR", "done record not allowed"},
    /* the attribute allow-list */
    {U, "F=a R=c A=fullname=J%Doe A=envid=x A=ret=HDRS A=body=8BITMIME M E", "KKKKKKKK", NULL},
    {U, "F=a R=c A=uid=0 A=client_addr=1.2.3.4 A=sasl_username=x M E", "KKSSSKK", NULL},
    {L, "F=a R=c A=uid=7 A=envid=x A=client_addr=1.2.3.4 M E", "KKKKSKK", NULL},
    {D, "F=a R=c A=client_addr=1.2.3.4 A=helo=x A=uid=7 M E", "KKKKKKK", NULL},
    {D, "F=a A=Bad=1", "KR", "malformed attribute record"},
    {D, "F=a A==1", "KR", "malformed attribute record"},
    {U, "F=a A=novalue", "KR", "malformed attribute record"},
    /* values */
    {U, "F=a^Mb", "R", "control character or over-long value in envelope"},
    {U, "F=a R=c^[[0m", "KR", "control character or over-long value in envelope"},
    {U, "F=a R=c\x7f", "KR", "control character or over-long value in envelope"},
    {D, "F=a^Mb R=c M E", "KKKK", NULL}, /* a daemon's values: no NUL only */
    {U, "F=a R= M", "KR", "empty recipient"},
    {D, "F=a R= M E", "KKKK", NULL},
    /* order */
    {D, "F=a F=b", "KR", "duplicate sender record"},
    {D, "O=x", "R", "orcpt/notify without recipient"},
    {D, "F=a O=x", "KR", "orcpt/notify without recipient"},
    {D, "F=a R=c O=x O=y", "KKKR", "duplicate orcpt/notify"},
    {D, "F=a R=c N=x O=y N=z", "KKKKR", "duplicate orcpt/notify"},
    {D, "F=a R=c O=x R=d O=y M E", "KKKKKKK", NULL},
    {D, "F=a R=c A=x=1 O=y", "KKKR", "orcpt/notify without recipient"},
    {U, "R=c M", "KR", "no sender"},
    {U, "F=a M", "KR", "no recipients"},
    {D, "F=a M E", "KKK", NULL}, /* cleanup answers "no recipients" */
    {D, "F=a M=x", "KR", "non-empty mesg record"},
    {D, "L=x", "R", "content record before mesg"},
    {D, "F=a R=c E", "KKR", "content record before mesg"},
    {D, "F=a R=c M R=d", "KKKR", "envelope record after mesg"},
    {D, "F=a R=c M C=x E", "KKKKR", "end record inside a line"},
    {D, "F=a R=c M E=x", "KKKR", "non-empty end record"},
    {D, "F=a R=c M E L=x", "KKKKR", "data after end record"},
    {D, "F=a R=c M E E", "KKKKR", "data after end record"},
};

/* decode - "%" is a space, "^X" control-X */
static void decode(str_t *out, const char *in, size_t len)
{
    str_reset(out);
    for (size_t i = 0; i < len; i++) {
	if (in[i] == '%')
	    str_appendc(out, ' ');
	else if (in[i] == '^' && i + 1 < len)
	    str_appendc(out, in[++i] & 0x1f);
	else
	    str_appendc(out, in[i]);
    }
}

/* run_case - feed one row's records; compare verdicts and the reason */
static void run_case(const qenv_case_t *c, size_t row)
{
    qenv_limits_t none = {0, 0};
    qenv_t q;
    str_t *v = str_new(64), *got = str_new(16);
    const char *cp = c->records;

    qenv_init(&q, c->source, &none);
    while (*cp) {
	size_t n = strcspn(cp, " ");
	int type = cp[0], verdict;

	decode(v, cp + 2 * (n > 1), n > 1 ? n - 2 : 0);
	verdict = qenv_record(&q, type, str_data(v), str_len(v));
	str_appendc(got, verdict == QENV_KEEP ? 'K' : verdict == QENV_SKIP ? 'S' : 'R');
	if (verdict == QENV_REFUSE)
	    break;
	cp += n + (cp[n] == ' ');
    }
    if (strcmp(str_data(got), c->verdicts) != 0)
	fail_msg("row %zu (%s): verdicts %s, expected %s", row, c->records, str_data(got),
		 c->verdicts);
    if (c->error && (q.error == NULL || strcmp(q.error, c->error) != 0))
	fail_msg("row %zu (%s): error \"%s\", expected \"%s\"", row, c->records,
		 q.error ? q.error : "(none)", c->error);
    if (c->error == NULL && strchr(c->verdicts, 'R') == NULL &&
	c->records[strlen(c->records) - 1] == 'E')
	assert_int_equal(qenv_end(&q), 0);
    str_free(&v);
    str_free(&got);
}

/* test_table - every row of the table */
static void test_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	run_case(cases + i, i);
}

/* test_refusal_sticks - after a refusal everything is refused */
static void test_refusal_sticks(void **state)
{
    qenv_t q;

    qenv_init(&q, QENV_DAEMON, NULL);
    assert_int_equal(qenv_record(&q, 'X', "", 0), QENV_REFUSE);
    assert_string_equal(q.error, "unknown record type");
    assert_int_equal(qenv_record(&q, REC_TYPE_SENDER, "a", 1), QENV_REFUSE);
    assert_int_equal(qenv_end(&q), -1);
    qenv_init(&q, QENV_DAEMON, NULL);
    assert_int_equal(qenv_record(&q, REC_TYPE_SENDER, "a", 1), QENV_KEEP);
    assert_int_equal(qenv_end(&q), -1);
    assert_string_equal(q.error, "missing end record");
}

/* test_recipient_limit - the (limit+1)th recipient is refused */
static void test_recipient_limit(void **state)
{
    qenv_limits_t lim = {0, 3};
    qenv_t q;

    qenv_init(&q, QENV_USER, &lim);
    assert_int_equal(qenv_record(&q, REC_TYPE_SENDER, "a", 1), QENV_KEEP);
    for (int i = 0; i < 3; i++)
	assert_int_equal(qenv_record(&q, REC_TYPE_RCPT, "r", 1), QENV_KEEP);
    assert_int_equal(qenv_record(&q, REC_TYPE_RCPT, "r", 1), QENV_REFUSE);
    assert_int_equal(q.refused, QENV_TOO_MANY);
    assert_string_equal(q.error, "too many recipients");
}

/* test_size_counts_record_overhead - empty records are not free */
static void test_size_counts_record_overhead(void **state)
{
    qenv_limits_t lim = {100, 0};
    qenv_t q;
    int n = 0;

    qenv_init(&q, QENV_USER, &lim);
    assert_int_equal(qenv_record(&q, REC_TYPE_SENDER, "a", 1), QENV_KEEP); /* 3 */
    assert_int_equal(qenv_record(&q, REC_TYPE_RCPT, "r", 1), QENV_KEEP);   /* 6 */
    assert_int_equal(qenv_record(&q, REC_TYPE_MESG, "", 0), QENV_KEEP);    /* 8 */
    while (qenv_record(&q, REC_TYPE_CONT, "", 0) == QENV_KEEP)
	n++;
    assert_int_equal(n, 46); /* 8 + 46 * 2 = 100 */
    assert_int_equal(q.refused, QENV_TOO_BIG);
    assert_int_equal(q.content_size, 0);
    assert_string_equal(q.error, "message too large");
}

/* test_attr_names - the name grammar and the per-source lists */
static void test_attr_names(void **state)
{
    assert_int_equal(qenv_attr_name("envid=x", 7), 5);
    assert_int_equal(qenv_attr_name("a_1=", 4), 3);
    assert_int_equal(qenv_attr_name("A=1", 3), 0);
    assert_int_equal(qenv_attr_name("envid", 5), 0);
    assert_int_equal(qenv_attr_name("env id=x", 8), 0);
    assert_true(qenv_attr_allowed(QENV_USER, "ret=FULL", 8));
    assert_false(qenv_attr_allowed(QENV_USER, "retx=FULL", 9));
    assert_false(qenv_attr_allowed(QENV_USER, "re=FULL", 7));
    assert_false(qenv_attr_allowed(QENV_USER, "uid=0", 5));
    assert_true(qenv_attr_allowed(QENV_LOCAL, "uid=0", 5));
    assert_false(qenv_attr_allowed(QENV_LOCAL, "protocol=ESMTP", 14));
    assert_true(qenv_attr_allowed(QENV_DAEMON, "protocol=ESMTP", 14));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_table),           cmocka_unit_test(test_refusal_sticks),
	cmocka_unit_test(test_recipient_limit), cmocka_unit_test(test_size_counts_record_overhead),
	cmocka_unit_test(test_attr_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
