/*
 * test_clamd_client.c - the clamd reply parser (replies to INSTREAM and
 * to FILDES), fed whole and in 1, 2, 3 and 7-byte steps, with hostile
 * sizes and garbage; and the client against a socket that is not there
 * (an error, never clean).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/clamd_client.h"

/* run - feed len bytes in steps (0: all at once); returns the verdict,
 * *used_r the bytes consumed, *done_r whether the parser finished
 * before the end of the input (else the end of input is reported) */
static int reply_fildes; /* parse replies to FILDES */

static clamd_result_t run(const char *in, size_t len, size_t step, size_t *used_r, int *done_r)
{
    clamd_reply_t r;
    size_t pos = 0, used;
    int rc = CLAMD_REPLY_MORE;

    if (reply_fildes)
	clamd_reply_init_fd(&r);
    else
	clamd_reply_init(&r);
    while (pos < len && rc == CLAMD_REPLY_MORE) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;

	rc = clamd_reply_feed(&r, in + pos, n, &used);
	assert_true(used <= n);
	pos += used;
    }
    *done_r = rc == CLAMD_REPLY_DONE;
    *used_r = pos;
    return *clamd_reply_eof(&r);
}

/* check - every step size agrees with the expectation */
static void check(const char *in, size_t len, int want_status, const char *want_text,
		  size_t want_used, int want_done)
{
    size_t steps[] = {0, 1, 2, 3, 7};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	size_t used;
	int done;
	clamd_result_t res = run(in, len, steps[i], &used, &done);

	if (res.status != want_status || strcmp(res.text, want_text) != 0 || used != want_used ||
	    done != want_done)
	    fail_msg("input \"%.*s\" step %zu: got %d \"%s\" used=%zu done=%d;"
		     " want %d \"%s\" used=%zu done=%d",
		     (int)len, in, steps[i], res.status, res.text, used, done, want_status,
		     want_text, want_used, want_done);
    }
}

#define CHECK(lit, st, text, used, done) check(lit, sizeof(lit) - 1, st, text, used, done)

/* test_verdicts - the three shapes clamd answers with */
static void test_verdicts(void **state)
{
    CHECK("stream: OK\0", CLAMD_CLEAN, "OK", 11, 1);
    CHECK("stream: Eicar-Test-Signature FOUND\0", CLAMD_INFECTED, "Eicar-Test-Signature", 35, 1);
    CHECK("stream: Mailroom-Test.UNOFFICIAL FOUND\0", CLAMD_INFECTED, "Mailroom-Test.UNOFFICIAL",
	  39, 1);
    CHECK("INSTREAM size limit exceeded. ERROR\0", CLAMD_ERROR,
	  "clamd: INSTREAM size limit exceeded. ERROR", 36, 1);
    CHECK("stream: Can't allocate memory ERROR\0", CLAMD_ERROR,
	  "clamd: stream: Can't allocate memory ERROR", 36, 1);
    /* bytes after the NUL are not consumed */
    CHECK("stream: OK\0garbage", CLAMD_CLEAN, "OK", 11, 1);
}

/* test_fildes - the replies to a passed descriptor, and their near
 * misses: each kind of reply only where it belongs */
static void test_fildes(void **state)
{
    reply_fildes = 1;
    CHECK("fd[10]: OK\0", CLAMD_CLEAN, "OK", 11, 1);
    CHECK("fd[7]: Eicar-Test-Signature FOUND\0", CLAMD_INFECTED, "Eicar-Test-Signature", 34, 1);
    CHECK("fd[1234567890]: OK\0", CLAMD_CLEAN, "OK", 19, 1);
    CHECK("PROTOCOL ERROR: ancillary data sent without FILDES. ERROR\0", CLAMD_ERROR,
	  "clamd: PROTOCOL ERROR: ancillary data sent without FILDES. ERROR", 58, 1);
    CHECK("stream: OK\0", CLAMD_ERROR, "unexpected reply from clamd: stream: OK", 11, 1);
    CHECK("fd[]: OK\0", CLAMD_ERROR, "unexpected reply from clamd: fd[]: OK", 9, 1);
    CHECK("fd[12345678901]: OK\0", CLAMD_ERROR, "unexpected reply from clamd: fd[12345678901]: OK",
	  20, 1);
    CHECK("fd[1]:OK\0", CLAMD_ERROR, "unexpected reply from clamd: fd[1]:OK", 9, 1);
    CHECK("fd[1]: \0", CLAMD_ERROR, "unexpected reply from clamd: fd[1]: ", 8, 1);
    CHECK("fd[1]: FOUND\0", CLAMD_ERROR, "unexpected reply from clamd: fd[1]: FOUND", 13, 1);
    CHECK("fd[x]: OK\0", CLAMD_ERROR, "unexpected reply from clamd: fd[x]: OK", 10, 1);
    CHECK("fd[1]: OK", CLAMD_ERROR, "clamd reply cut short: fd[1]: OK", 9, 0);
    reply_fildes = 0;
    CHECK("fd[10]: OK\0", CLAMD_ERROR, "unexpected reply from clamd: fd[10]: OK", 11, 1);
}

/* test_not_clean - near misses of "stream: OK" are errors */
static void test_not_clean(void **state)
{
    CHECK("stream: OK", CLAMD_ERROR, "clamd reply cut short: stream: OK", 10, 0);
    CHECK("stream: OK\n", CLAMD_ERROR, "clamd reply cut short: stream: OK?", 11, 0);
    CHECK("stream: OK \0", CLAMD_ERROR, "unexpected reply from clamd: stream: OK ", 12, 1);
    CHECK("stream: ok\0", CLAMD_ERROR, "unexpected reply from clamd: stream: ok", 11, 1);
    CHECK("OK\0", CLAMD_ERROR, "unexpected reply from clamd: OK", 3, 1);
    CHECK("stream:OK\0", CLAMD_ERROR, "unexpected reply from clamd: stream:OK", 10, 1);
    CHECK("\0", CLAMD_ERROR, "empty reply from clamd", 1, 1);
    CHECK("", CLAMD_ERROR, "clamd closed the connection without a reply", 0, 0);
    CHECK("PONG\0", CLAMD_ERROR, "unexpected reply from clamd: PONG", 5, 1);
}

/* test_bad_found - a FOUND without a plain name is not trusted either */
static void test_bad_found(void **state)
{
    CHECK("stream:  FOUND\0", CLAMD_ERROR, "unexpected reply from clamd: stream:  FOUND", 15, 1);
    CHECK("stream: FOUND\0", CLAMD_ERROR, "unexpected reply from clamd: stream: FOUND", 14, 1);
    CHECK("stream: a b FOUND\0", CLAMD_ERROR, "unexpected reply from clamd: stream: a b FOUND", 18,
	  1);
    CHECK("stream: a\tb FOUND\0", CLAMD_ERROR, "unexpected reply from clamd: stream: a?b FOUND", 18,
	  1);
    CHECK("stream: \xff FOUND\0", CLAMD_ERROR, "unexpected reply from clamd: stream: ? FOUND", 16,
	  1);
}

/* test_hostile_sizes - a reply at the limit, one byte over, a flood */
static void test_hostile_sizes(void **state)
{
    char in[CLAMD_REPLY_MAX + 64];
    char want[CLAMD_REPLY_MAX + 64];
    size_t name = CLAMD_REPLY_MAX - strlen("stream: ") - strlen(" FOUND");

    /* exactly CLAMD_REPLY_MAX bytes before the NUL: accepted */
    memcpy(in, "stream: ", 8);
    memset(in + 8, 'N', name);
    memcpy(in + 8 + name, " FOUND", 7);
    memset(want, 'N', name);
    want[name] = 0;
    check(in, CLAMD_REPLY_MAX + 1, CLAMD_INFECTED, want, CLAMD_REPLY_MAX + 1, 1);

    /* one more byte: refused at the limit, the rest not consumed */
    memset(in, 'x', sizeof(in));
    in[CLAMD_REPLY_MAX + 1] = 0;
    memcpy(want, "reply from clamd too long: ", 27);
    memset(want + 27, 'x', 64);
    want[27 + 64] = 0;
    check(in, CLAMD_REPLY_MAX + 2, CLAMD_ERROR, want, CLAMD_REPLY_MAX, 1);

    /* binary garbage: printable text, no overflow */
    for (size_t i = 0; i < sizeof(in); i++)
	in[i] = (char)(i * 37 + 1) ? (char)(i * 37 + 1) : 1;
    {
	size_t used;
	int done;
	clamd_result_t res = run(in, sizeof(in), 1, &used, &done);

	assert_int_equal(res.status, CLAMD_ERROR);
	for (const char *p = res.text; *p; p++)
	    assert_true(*p >= 0x20 && *p < 0x7f);
	assert_true(strlen(res.text) < sizeof(res.text));
    }
}

/* test_feed_after_done - a finished parser takes nothing more */
static void test_feed_after_done(void **state)
{
    clamd_reply_t r;
    size_t used;

    clamd_reply_init(&r);
    assert_int_equal(clamd_reply_feed(&r, "stream: OK\0", 11, &used), CLAMD_REPLY_DONE);
    assert_int_equal(clamd_reply_feed(&r, "stream: X FOUND\0", 16, &used), CLAMD_REPLY_DONE);
    assert_int_equal(used, 0);
    assert_int_equal(clamd_reply_eof(&r)->status, CLAMD_CLEAN);
}

/* test_no_socket - no clamd: an error that names the socket */
static void test_no_socket(void **state)
{
    clamd_result_t res;
    int fd = open("/dev/null", O_RDONLY);

    assert_int_equal(clamd_scan_fd("/nonexistent/clamd.sock", 2, 0, fd, 1, &res), CLAMD_ERROR);
    assert_non_null(strstr(res.text, "cannot connect to clamd at /nonexistent/clamd.sock"));
    close(fd);
    fd = open("/etc/hostname", O_RDONLY);
    assert_int_equal(clamd_scan_fd("unix:/nonexistent/clamd.sock", 2, 0, fd, 1, &res), CLAMD_ERROR);
    assert_non_null(strstr(res.text, "cannot connect to clamd at unix:/nonexistent/clamd.sock"));
    assert_int_equal(clamd_scan_fd("/nonexistent/clamd.sock", 2, 1, fd, 1, &res), CLAMD_TOOLONG);
    assert_string_equal(res.text, "message larger than 1 bytes, not scanned");
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_verdicts),        cmocka_unit_test(test_not_clean),
	cmocka_unit_test(test_bad_found),       cmocka_unit_test(test_hostile_sizes),
	cmocka_unit_test(test_feed_after_done), cmocka_unit_test(test_no_socket),
	cmocka_unit_test(test_fildes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
