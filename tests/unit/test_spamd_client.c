/*
 * test_spamd_client.c - the spamd reply parser, fed whole and in 1, 2, 3
 * and 7-byte steps: the replies spamd sends for CHECK, SYMBOLS, PROCESS
 * and TELL, error codes, near misses, cuts and hostile sizes; and the
 * client against a socket that is not there (an error, never ham).
 */
#include <stdio.h>
#include <string.h>

#include "unit_helpers.h"
#include "util/str.h"
#include "global/spamd_client.h"

#define OK "SPAMD/1.1 0 EX_OK\r\n"

/* body_collect - PROCESS body callback: append to a str_t */
static void body_collect(void *context, const char *data, size_t len)
{
    str_append(context, data, len);
}

/* run - feed len bytes in steps (0: all at once); the verdict, the
 * bytes consumed, whether the parser finished before the end of input */
static spamd_result_t run(int cmd, const char *in, size_t len, size_t step, size_t *used_r,
			  int *done_r, str_t *body)
{
    spamd_reply_t r;
    size_t pos = 0, used;
    int rc = SPAMD_REPLY_MORE;

    spamd_reply_init(&r, cmd);
    r.body_fn = body ? body_collect : NULL;
    r.body_context = body;
    while (pos < len && rc == SPAMD_REPLY_MORE) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;

	rc = spamd_reply_feed(&r, in + pos, n, &used);
	assert_true(used <= n);
	pos += used;
    }
    *done_r = rc == SPAMD_REPLY_DONE;
    *used_r = pos;
    return *spamd_reply_eof(&r);
}

/* want_t - what a reply must give */
typedef struct want {
    int status, score, threshold, learned;
    const char *text; /* reason, or symbols for SYMBOLS */
    int done;         /* complete before the end of input */
} want_t;

/* check_n - every step size agrees with the expectation */
static void check_n(int cmd, const char *in, size_t len, want_t w)
{
    size_t steps[] = {0, 1, 2, 3, 7};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	size_t used;
	int done;
	spamd_result_t res = run(cmd, in, len, steps[i], &used, &done, NULL);
	const char *text = res.status == SPAMD_ERROR ? res.text : res.symbols;

	if (res.status != w.status || strcmp(text, w.text) != 0 || done != w.done ||
	    (res.status != SPAMD_ERROR &&
	     (res.score != w.score || res.threshold != w.threshold || res.learned != w.learned)))
	    fail_msg("input \"%.*s\" step %zu: got %d %d/%d l=%d \"%s\" done=%d;"
		     " want %d %d/%d l=%d \"%s\" done=%d",
		     (int)len, in, steps[i], res.status, res.score, res.threshold, res.learned,
		     text, done, w.status, w.score, w.threshold, w.learned, w.text, w.done);
    }
}

#define CHECK(cmd, lit, ...) check_n(cmd, lit, sizeof(lit) - 1, (want_t){__VA_ARGS__})
#define ERR(cmd, lit, why, d) CHECK(cmd, lit, SPAMD_ERROR, 0, 0, 0, why, d)

/* test_check - CHECK replies as spamd sends them */
static void test_check(void **state)
{
    CHECK(SPAMD_CHECK, OK "Spam: True ; 1000.0 / 5.0\r\n\r\n", SPAMD_SPAM, 10000, 50, 0, "", 1);
    CHECK(SPAMD_CHECK, OK "Spam: False ; -0.1 / 5.0\r\n\r\n", SPAMD_HAM, -1, 50, 0, "", 1);
    CHECK(SPAMD_CHECK, OK "Spam: False ; 2.26 / 5.0\r\n\r\n", SPAMD_HAM, 23, 50, 0, "", 1);
    CHECK(SPAMD_CHECK, "SPAMD/1.5 0 EX_OK\nSpam: Yes ; 7 / 5\n\n", SPAMD_SPAM, 70, 50, 0, "", 1);
    /* unknown headers are skipped; bytes after the empty line ignored */
    CHECK(SPAMD_CHECK, OK "X-Other: y\r\nSpam: False ; 0.0 / 5.0\r\n\r\njunk", SPAMD_HAM, 0, 50, 0,
	  "", 1);
}

/* test_symbols_process - replies with a body */
static void test_symbols_process(void **state)
{
    const char in[] = OK "Content-length: 24\r\nSpam: True ; 1002.5 / 5.0\r\n\r\n"
			 "GTUBE,MISSING_DATE,NO_RX";
    const char proc[] = OK "Content-length: 11\r\nSpam: False ; 1.0 / 5.0\r\n\r\n"
			   "Subject: x\n";
    str_t *body = str_new(64);
    size_t used;
    int done;
    spamd_result_t res;

    CHECK(SPAMD_SYMBOLS, in, SPAMD_SPAM, 10025, 50, 0, "GTUBE,MISSING_DATE,NO_RX", 1);
    CHECK(SPAMD_SYMBOLS, OK "Content-length: 0\r\nSpam: False ; 0.0 / 5.0\r\n\r\n", SPAMD_HAM, 0,
	  50, 0, "", 1);
    /* the old form ends the names with CRLF */
    CHECK(SPAMD_SYMBOLS, OK "Content-length: 6\r\nSpam: False ; 0.0 / 5.0\r\n\r\nA,B\x01\r\n",
	  SPAMD_HAM, 0, 50, 0, "A,B?", 1);
    ERR(SPAMD_SYMBOLS, OK "Content-length: 9\r\nSpam: False ; 0.0 / 5.0\r\n\r\nA,B",
	"spamd reply body cut short", 0);
    ERR(SPAMD_SYMBOLS, OK "Content-length: 9000\r\nSpam: False ; 0.0 / 5.0\r\n\r\n",
	"bad header line from spamd: Content-length: 9000", 1);
    for (size_t step = 1; step < 8; step++) {
	str_reset(body);
	res = run(SPAMD_PROCESS, proc, sizeof(proc) - 1, step, &used, &done, body);
	assert_int_equal(res.status, SPAMD_HAM);
	assert_true(done);
	assert_int_equal(used, sizeof(proc) - 1);
	assert_string_equal(str_data(body), "Subject: x\n");
    }
    str_free(&body);
}

/* test_tell - learned or not */
static void test_tell(void **state)
{
    CHECK(SPAMD_TELL, OK "DidSet: local\r\n\r\n\r\n", SPAMD_TOLD, 0, 0, 1, "", 1);
    CHECK(SPAMD_TELL, OK "DidRemove: local\r\n\r\n\r\n", SPAMD_TOLD, 0, 0, 1, "", 1);
    CHECK(SPAMD_TELL, OK "\r\n\r\n", SPAMD_TOLD, 0, 0, 0, "", 1);
    CHECK(SPAMD_TELL, OK "DidSet: remote\r\n\r\n", SPAMD_TOLD, 0, 0, 0, "", 1);
}

/* test_errors - codes, malformed replies, cuts: never a verdict */
static void test_errors(void **state)
{
    ERR(SPAMD_CHECK, "SPAMD/1.0 76 Bad header line: (EOF during headers)\r\n",
	"spamd: SPAMD/1.0 76 Bad header line: (EOF during headers)", 1);
    ERR(SPAMD_CHECK, "SPAMD/1.0 69 Service Unavailable: x\r\nSpam: False ; 0 / 5\r\n\r\n",
	"spamd: SPAMD/1.0 69 Service Unavailable: x", 1);
    ERR(SPAMD_CHECK, "", "spamd closed the connection without a reply", 0);
    ERR(SPAMD_CHECK, OK, "spamd reply cut short: ", 0);
    ERR(SPAMD_CHECK, OK "Spam: False ; 0.0 / 5.0\r\n", "spamd reply cut short: ", 0);
    ERR(SPAMD_CHECK, OK "Spam: False ; 0.0 / 5.0", "spamd reply cut short: Spam: False ; 0.0 / 5.0",
	0);
    ERR(SPAMD_CHECK, OK "\r\n", "spamd reply without a Spam header", 1);
    ERR(SPAMD_CHECK, "HTTP/1.0 200 OK\r\n", "unexpected reply from spamd: HTTP/1.0 200 OK", 1);
    ERR(SPAMD_CHECK, "SPAMD/1.1 x EX_OK\r\n", "unexpected reply from spamd: SPAMD/1.1 x EX_OK", 1);
    ERR(SPAMD_CHECK, "SPAMD/1.1  0\r\n", "unexpected reply from spamd: SPAMD/1.1  0", 1);
    ERR(SPAMD_CHECK, OK "Spam: Maybe ; 1 / 5\r\n\r\n",
	"bad header line from spamd: Spam: Maybe ; 1 / 5", 1);
    ERR(SPAMD_CHECK, OK "Spam: True ; x / 5\r\n\r\n",
	"bad header line from spamd: Spam: True ; x / 5", 1);
    ERR(SPAMD_CHECK, OK "Spam: True ; 1 / 5 z\r\n\r\n",
	"bad header line from spamd: Spam: True ; 1 / 5 z", 1);
    ERR(SPAMD_CHECK, OK "Spam: True ; 1 5\r\n\r\n", "bad header line from spamd: Spam: True ; 1 5",
	1);
    ERR(SPAMD_CHECK, OK "Spam: True ; 99999999 / 5\r\n\r\n",
	"bad header line from spamd: Spam: True ; 99999999 / 5", 1);
    /* two verdicts are one too many */
    ERR(SPAMD_CHECK, OK "Spam: False ; 0 / 5\r\nSpam: True ; 9 / 5\r\n\r\n",
	"bad header line from spamd: Spam: True ; 9 / 5", 1);
    ERR(SPAMD_CHECK, OK "no colon\r\n", "malformed header line from spamd: no colon", 1);
    ERR(SPAMD_CHECK, OK ": empty name\r\n", "malformed header line from spamd: : empty name", 1);
    ERR(SPAMD_CHECK, OK "Spam: False ; 0 / 5\0\r\n\r\n", "NUL byte in the reply from spamd", 1);
    ERR(SPAMD_SYMBOLS, OK "Content-length: -1\r\n",
	"bad header line from spamd: Content-length: -1", 1);
    ERR(SPAMD_SYMBOLS, OK "Content-length: \r\n",
	"bad header line from spamd: Content-length: ", 1);
}

/* test_hostile - a long line, many headers, a huge PROCESS body */
static void test_hostile(void **state)
{
    str_t *in = str_new(100000), *body = str_new(16);
    spamd_result_t res;
    size_t used;
    int done;

    str_appends(in, OK "X: ");
    for (int i = 0; i < 100000; i++)
	str_appendc(in, 'a');
    res = run(SPAMD_CHECK, str_data(in), str_len(in), 0, &used, &done, NULL);
    assert_int_equal(res.status, SPAMD_ERROR);
    assert_true(done);
    assert_true(used < 600);
    assert_non_null(strstr(res.text, "line from spamd too long"));

    str_set(in, OK);
    for (int i = 0; i < 40; i++)
	str_appends(in, "X-Many: 1\r\n");
    str_appends(in, "Spam: False ; 0 / 5\r\n\r\n");
    check_n(SPAMD_CHECK, str_data(in), str_len(in),
	    (want_t){SPAMD_ERROR, 0, 0, 0, "too many header lines from spamd", 1});

    /* a PROCESS body of 10 MB passes through without being kept */
    str_set(in, OK "Content-length: 10000000\r\nSpam: False ; 0 / 5\r\n\r\n");
    {
	spamd_reply_t r;
	char chunk[10000];
	long long total = 0;

	memset(chunk, 'b', sizeof(chunk));
	spamd_reply_init(&r, SPAMD_PROCESS);
	r.body_fn = body_collect;
	r.body_context = body;
	assert_int_equal(spamd_reply_feed(&r, str_data(in), str_len(in), &used), SPAMD_REPLY_MORE);
	for (int i = 0; i < 1000; i++) {
	    assert_false(r.done);
	    spamd_reply_feed(&r, chunk, sizeof(chunk), &used);
	    total += used;
	    str_reset(body);
	}
	assert_true(r.done);
	assert_int_equal(total, 10000000);
	assert_int_equal(r.result.status, SPAMD_HAM);
    }
    str_free(&in);
    str_free(&body);
}

/* test_no_spamd - no server: an error with the address, never ham */
static void test_no_spamd(void **state)
{
    spamd_request_t req = {.command = SPAMD_CHECK, .length = 10, .timeout = 5};
    spamd_result_t res;
    char path[300];

    snprintf(path, sizeof(path), "%s/nothing.sock", unit_tmpdir());
    assert_null(spamd_open(path, &req, &res));
    assert_int_equal(res.status, SPAMD_ERROR);
    assert_non_null(strstr(res.text, "cannot connect to spamd at "));
    assert_null(spamd_open("127.0.0.1:1", &req, &res));
    assert_int_equal(res.status, SPAMD_ERROR);
    req.max_size = 5;
    assert_null(spamd_open(path, &req, &res));
    assert_int_equal(res.status, SPAMD_TOOLONG);
    assert_string_equal(res.text, "message larger than 5 bytes, not scanned");
    req.max_size = 0;
    req.user = "a\r\nb";
    assert_null(spamd_open(path, &req, &res));
    assert_string_equal(res.text, "unusable user name for spamd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_check),   cmocka_unit_test(test_symbols_process),
	cmocka_unit_test(test_tell),    cmocka_unit_test(test_errors),
	cmocka_unit_test(test_hostile), cmocka_unit_test(test_no_spamd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
