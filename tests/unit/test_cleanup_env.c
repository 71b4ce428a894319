/*
 * test_cleanup_env.c - cleanup's envelope and header work, without a
 * socket (it links cleanup_state.o, cleanup_env.o, cleanup_msg.o):
 * virtual alias expansion (recursion, self-reference, limits),
 * duplicate removal, the attributes a local submission may set, and the
 * headers cleanup adds. Each case feeds records to cleanup's record
 * handler as a client would, commits the file into a temporary queue,
 * and reads it back with the queue library's reader.
 */
#include <string.h>
#include <sys/stat.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/str.h"

#include "global/mail_proto.h"
#include "queue/cleanup_client.h"
#include "util/attr.h"
#include "util/mymalloc.h"
#include "../../cleanup/cleanup.h"

#define ALIASES                                                                                    \
    "inline:{ list@mx.test = a@mx.test b@mx.test, "                                                \
    "a@mx.test = a@mx.test c@far.test, "                                                           \
    "loop1@mx.test = loop2@mx.test, loop2@mx.test = loop1@mx.test, "                               \
    "wide@mx.test = w1 w2 w3 w4 w5 }"

/* setup - a queue in a temporary directory and the alias table */
static int setup(void **state)
{
    char *incoming = mr_format("%s/%s", unit_tmpdir(), MAIL_QUEUE_INCOMING);

    assert_int_equal(mkdir(incoming, 0700), 0);
    mr_free(incoming);
    config_override("queue_directory", unit_tmpdir());
    config_override("myorigin", "mx.test");
    config_override("myhostname", "mx.test");
    config_override("mydestination", "mx.test");
    config_override("virtual_alias_maps", ALIASES);
    config_override("virtual_alias_expansion_limit", "4");
    cleanup_env_init();
    return 0;
}

typedef struct cleanup_run {
    int status;
    char reason[200];
    qfile_t *qf;    /* the committed file, or NULL */
    str_t *content; /* its content, lines joined with \n */
} cleanup_run_t;

/* feed - one record to cleanup's handler */
static void feed(cleanup_state_t *cs, int type, const char *value)
{
    str_t *v = str_new(64);

    str_set(v, value);
    (void)cleanup_record(cs, type, v);
    str_free(&v);
}

/* run - envelope "F=.. R=.. A=.." (space-separated), then the lines of
 * content ("\n"-separated), then END; commit and read back */
static void run(cleanup_run_t *r, int flags, const char *envelope, const char *content)
{
    const char *why;
    qfile_out_t *qo = qfile_create(MAIL_QUEUE_INCOMING, 0600, &why);
    cleanup_state_t *cs;
    char *copy = mr_strdup(envelope), *cp = copy, *tok;
    str_t *path = str_new(100), *line = str_new(100);
    int complete;

    assert_non_null(qo);
    cs = cleanup_state_new(qo);
    cs->flags = flags;
    cleanup_check_init(cs);
    cleanup_begin_file(cs);
    while ((tok = next_token(&cp, " ")) != NULL)
	feed(cs, tok[0], tok + 2);
    feed(cs, REC_TYPE_MESG, "");
    for (const char *lp = content; *lp;) {
	size_t n = strcspn(lp, "\n");
	char *l = mr_strndup(lp, n);

	feed(cs, REC_TYPE_NORM, l);
	mr_free(l);
	lp += n + (lp[n] == '\n');
    }
    feed(cs, REC_TYPE_END, "");
    cleanup_write(cs, REC_TYPE_END, "", 0); /* what cleanup.c commits */
    if (!cs->status)
	assert_int_equal(qfile_commit(cs->qo, &why), 0);
    memset(r, 0, sizeof(*r));
    r->status = cs->status;
    mr_strlcpy(r->reason, str_data(cs->reason), sizeof(r->reason));
    r->content = str_new(100);
    if (cs->status == 0) {
	assert_int_equal(
	    qfile_open(qfile_abspath(path, MAIL_QUEUE_INCOMING, cs->id), 0, &r->qf, &why),
	    QFILE_OK);
	while (qfile_line(r->qf, line, 1 << 20, &complete, &why) > 0)
	    str_appendf(r->content, "%s\n", str_data(line));
    }
    cleanup_state_free(&cs);
    mr_free(copy);
    str_free(&path);
    str_free(&line);
}

/* done - release a run */
static void done(cleanup_run_t *r)
{
    qfile_close(&r->qf);
    str_free(&r->content);
}

/* rcpts - the recipients of a run, space-separated (static storage) */
static const char *rcpts(const cleanup_run_t *r)
{
    static str_t *buf;

    if (buf == NULL)
	buf = str_new(100);
    str_reset(buf);
    for (size_t i = 0; r->qf && i < r->qf->rcpt_count; i++)
	str_appendf(buf, "%s%s", i ? " " : "", r->qf->rcpts[i].address);
    return str_data(buf);
}

/* test_alias_expansion - as a table: envelope in, recipients out */
static void test_alias_expansion(void **state)
{
    static const struct {
	const char *env, *want;
    } t[] = {
	{"F=s@x R=plain@far.test", "plain@far.test"},
	{"F=s@x R=bare", "bare@mx.test"}, /* qualified */
	{"F=s@x R=list@mx.test", "a@mx.test c@far.test b@mx.test"},
	{"F=s@x R=a@mx.test", "a@mx.test c@far.test"}, /* self: kept, no loop */
	{"F=s@x R=LIST@MX.TEST", "a@mx.test c@far.test b@mx.test"},
	/* duplicates go, the first spelling stays */
	{"F=s@x R=u@far.test R=U@FAR.TEST R=u@far.test", "u@far.test"},
	{"F=s@x R=b@mx.test R=list@mx.test", "b@mx.test a@mx.test c@far.test"},
    };
    cleanup_run_t r;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
	run(&r, 0, t[i].env, "Subject: x\n\nbody");
	if (r.status != 0 || strcmp(rcpts(&r), t[i].want) != 0)
	    fail_msg("%s: got status %d (%s) rcpts \"%s\", want \"%s\"", t[i].env, r.status,
		     r.reason, rcpts(&r), t[i].want);
	done(&r);
    }
}

/* test_many_duplicates - 20,000 recipients, each sent twice in two
 * spellings: 10,000 remain, in first-seen order (a hash set: this
 * took seconds when every recipient was compared with all before it) */
static void test_many_duplicates(void **state)
{
    str_t *env = str_new(1 << 20);
    cleanup_run_t r;

    str_set(env, "F=s@x");
    for (int i = 0; i < 10000; i++)
	str_appendf(env, " R=user%d@far.test", i);
    for (int i = 0; i < 10000; i++)
	str_appendf(env, " R=USER%d@FAR.TEST", i);
    run(&r, CLEANUP_FLAG_NO_ALIAS, str_data(env), "x");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.qf->rcpt_count, 10000);
    assert_string_equal(r.qf->rcpts[0].address, "user0@far.test");
    assert_string_equal(r.qf->rcpts[9999].address, "user9999@far.test");
    done(&r);
    str_free(&env);
}

/* test_alias_orcpt - an expanded recipient remembers the original */
static void test_alias_orcpt(void **state)
{
    cleanup_run_t r;

    run(&r, 0, "F=s@x R=list@mx.test", "x");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.qf->rcpts[0].orcpt, "rfc822;list@mx.test");
    done(&r);
    run(&r, 0, "F=s@x R=plain@far.test", "x");
    assert_null(r.qf->rcpts[0].orcpt);
    done(&r);
}

/* test_alias_limits - loops and wide expansions are temporary errors */
static void test_alias_limits(void **state)
{
    cleanup_run_t r;

    run(&r, 0, "F=s@x R=loop1@mx.test", "x");
    assert_int_equal(r.status, CLEANUP_STAT_TEMP);
    assert_string_equal(r.reason, "virtual alias recursion limit exceeded");
    done(&r);
    run(&r, 0, "F=s@x R=wide@mx.test", "x");
    assert_int_equal(r.status, CLEANUP_STAT_TEMP);
    assert_string_equal(r.reason, "virtual alias expansion limit exceeded");
    done(&r);
    run(&r, CLEANUP_FLAG_NO_ALIAS, "F=s@x R=wide@mx.test", "x");
    assert_int_equal(r.status, 0);
    assert_string_equal(rcpts(&r), "wide@mx.test");
    done(&r);
}

/* test_headers_added - Message-ID and Date always, From for local mail */
static void test_headers_added(void **state)
{
    cleanup_run_t r;

    run(&r, 0, "F=s@x.test R=u@far.test", "Subject: hi\n\nbody");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(str_data(r.content), "Subject: hi\nMessage-ID: <"));
    assert_non_null(strstr(str_data(r.content), "@mx.test>\nDate: "));
    assert_null(strstr(str_data(r.content), "From:"));
    assert_non_null(strstr(str_data(r.content), "\n\nbody\n"));
    done(&r);
    run(&r, CLEANUP_FLAG_LOCAL, "F=s@x.test R=u@far.test", "Subject: hi\n\nbody");
    assert_non_null(strstr(str_data(r.content), "From: s@x.test\n"));
    done(&r);
    run(&r, CLEANUP_FLAG_LOCAL, "F=s@x.test R=u@far.test",
	"From: me@x.test\nMessage-ID: <own@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nb");
    assert_string_equal(str_data(r.content), "From: me@x.test\nMessage-ID: <own@x>\n"
					     "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\nb\n");
    done(&r);
}

/* test_headerless_content - the first line stays in the body */
static void test_headerless_content(void **state)
{
    cleanup_run_t r;

    run(&r, 0, "F=s@x.test R=u@far.test", "just text\nmore");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(str_data(r.content), "\n\njust text\nmore\n"));
    done(&r);
}

/* test_local_attributes - a local submission may set only the user's
 * attributes and uid; a daemon any well-formed one */
static void test_local_attributes(void **state)
{
    cleanup_run_t r;

    run(&r, CLEANUP_FLAG_LOCAL, "F=s@x R=u@far.test A=uid=1000 A=envid=e1 A=client_addr=10.0.0.1",
	"x");
    assert_int_equal(r.status, 0);
    assert_string_equal(attr_get(r.qf->attrs, "uid"), "1000");
    assert_string_equal(attr_get(r.qf->attrs, "envid"), "e1");
    assert_null(attr_get(r.qf->attrs, "client_addr"));
    done(&r);
    run(&r, 0, "F=s@x R=u@far.test A=client_addr=10.0.0.1", "x");
    assert_string_equal(attr_get(r.qf->attrs, "client_addr"), "10.0.0.1");
    done(&r);
    run(&r, 0, "F=s@x R=u@far.test A=Bad=1", "x");
    assert_int_equal(r.status, CLEANUP_STAT_BAD);
    assert_string_equal(r.reason, "malformed attribute record");
    done(&r);
}

/* test_local_recipient_limit - pickup's mail gets smtpd_recipient_limit */
static void test_local_recipient_limit(void **state)
{
    cleanup_run_t r;

    config_override("smtpd_recipient_limit", "2");
    run(&r, CLEANUP_FLAG_LOCAL, "F=s@x R=a@far.test R=b@far.test R=c@far.test", "x");
    assert_int_equal(r.status, CLEANUP_STAT_BAD);
    assert_string_equal(r.reason, "too many recipients");
    done(&r);
    run(&r, 0, "F=s@x R=a@far.test R=b@far.test R=c@far.test", "x");
    assert_int_equal(r.status, 0);
    done(&r);
    config_override("smtpd_recipient_limit", "1000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_alias_expansion),  cmocka_unit_test(test_alias_orcpt),
	cmocka_unit_test(test_many_duplicates),  cmocka_unit_test(test_alias_limits),
	cmocka_unit_test(test_headers_added),    cmocka_unit_test(test_headerless_content),
	cmocka_unit_test(test_local_attributes), cmocka_unit_test(test_local_recipient_limit),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
