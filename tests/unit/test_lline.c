/*
 * test_lline.c - the logical-line reader of every configuration file:
 * comments, continuations, line endings, bounds, from a file and from
 * memory alike.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "util/lline.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* read_all - every logical line as "LINE:text|", or "ERR:message" at
 * the first error; the same text read from a file and from memory */
static const char *read_all(const char *text, size_t max)
{
    static str_t *result[2];
    str_t *line = str_new(64), *err = str_new(64);

    for (int mode = 0; mode < 2; mode++) {
	lline_t *lr = mode == 0 ? lline_text(text, "t.conf", max)
				: lline_open(unit_write_file("t.conf", text), max, err);
	int lineno, r;

	if (result[mode] == NULL)
	    result[mode] = str_new(64);
	str_reset(result[mode]);
	assert_non_null(lr);
	while ((r = lline_next(lr, line, &lineno, err)) > 0)
	    str_appendf(result[mode], "%d:%s|", lineno, str_data(line));
	if (r < 0)
	    str_appendf(result[mode], "ERR:%s", strstr(str_data(err), "t.conf:"));
	lline_close(&lr);
	assert_null(lr);
    }
    assert_string_equal(str_data(result[0]), str_data(result[1]));
    str_free(&line);
    str_free(&err);
    return str_data(result[0]);
}

/* test_grammar - comments, blanks, continuations, CRLF, trailing space */
static void test_grammar(void **state)
{
    assert_string_equal(read_all("", 100), "");
    assert_string_equal(read_all("a = 1", 100), "1:a = 1|");
    assert_string_equal(read_all("# c\n\na = 1 \r\n  two\n\t three\r\nb\n", 100),
			"3:a = 1 two three|6:b|");
    assert_string_equal(read_all("a\n  # comment inside\n\n   b\nc\n", 100), "1:a b|5:c|");
    assert_string_equal(read_all("   \n\t\n", 100), "");
    assert_string_equal(read_all("a\r\r\n", 100), "1:a|");
}

/* test_errors - continuation without a line, NUL byte */
static void test_errors(void **state)
{
    assert_string_equal(read_all("# c\n  indented first\n", 100),
			"ERR:t.conf:2: continuation line without a line to continue");
    assert_string_equal(read_all("ok\n", 100), "1:ok|");
}

/* test_bounds - a line of max bytes is whole; one more byte is an error
 * at its line, never a second line made of the rest */
static void test_bounds(void **state)
{
    str_t *text = str_new(100);

    str_appends(text, "first\n");
    for (int i = 0; i < 10; i++)
	str_appendc(text, 'x');
    str_appends(text, "\nlast\n");
    assert_string_equal(read_all(str_data(text), 10), "1:first|2:xxxxxxxxxx|3:last|");
    assert_string_equal(read_all(str_data(text), 9),
			"ERR:t.conf:2: line longer than 9 bytes"); /* (look-ahead) */
    assert_string_equal(read_all("aaaa\n bbb\n ccc\n", 9),
			"ERR:t.conf:1: logical line longer than 9 bytes");
    assert_string_equal(read_all("aaaa\n bbbb\n", 9), "1:aaaa bbbb|");
    assert_string_equal(read_all("xxxxxxxxxxy", 10), "ERR:t.conf:1: line longer than 10 bytes");
    str_free(&text);
}

/* test_nul_and_missing - NUL bytes in a file; a missing file */
static void test_nul_and_missing(void **state)
{
    str_t *err = str_new(64), *line = str_new(64);
    const char *path = unit_write_file("nul.conf", "a = 1\n");
    lline_t *lr;
    int lineno;
    FILE *fp = fopen(path, "a");

    fwrite("b\0c\n", 1, 4, fp);
    fclose(fp);
    lr = lline_open(path, 100, err);
    assert_int_equal(lline_next(lr, line, &lineno, err), -1); /* (look-ahead) */
    assert_non_null(strstr(str_data(err), "nul.conf:2: NUL byte in line"));
    lline_close(&lr);
    assert_null(lline_open("/nonexistent/x.conf", 100, err));
    assert_string_equal(str_data(err), "/nonexistent/x.conf: No such file or directory");
    assert_null(lline_open(unit_tmpdir(), 100, err));
    assert_non_null(strstr(str_data(err), "not a regular file"));
    str_free(&err);
    str_free(&line);
}

/* read_stepped - the lines of text written into a pipe step bytes at a
 * time by a child, as read_all reports them */
static char *read_stepped(const char *text, size_t step, size_t max)
{
    str_t *out = str_new(64), *line = str_new(64), *err = str_new(64);
    int fds[2], lineno, r, status;
    lline_t *lr;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    if ((pid = fork()) == 0) {
	close(fds[0]);
	for (size_t off = 0, len = strlen(text); off < len; off += step) {
	    if (write(fds[1], text + off, len - off < step ? len - off : step) < 0)
		_exit(1);
	    usleep(200); /* one read per piece */
	}
	_exit(0);
    }
    close(fds[1]);
    lr = lline_fd(fds[0], "t.conf", max);
    while ((r = lline_next(lr, line, &lineno, err)) > 0)
	str_appendf(out, "%d:%s|", lineno, str_data(line));
    if (r < 0)
	str_appendf(out, "ERR:%s", str_data(err));
    lline_close(&lr);
    assert_true(waitpid(pid, &status, 0) == pid);
    str_free(&line);
    str_free(&err);
    return str_steal(&out);
}

/* test_byte_steps - input that arrives 1, 2, 3 or 7 bytes at a time
 * reads exactly as input that arrives whole */
static void test_byte_steps(void **state)
{
    static const char *texts[] = {
	"# c\n\na = 1 \r\n  two\n\t three\r\nb\n",
	"aaaa\n bbb\n ccc\n",
	"xxxxxxxxxxxxxxx\nlast\n",
	"a\n  # comment inside\n\n   b\nc",
    };
    static const size_t steps[] = {1, 2, 3, 7};

    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
	char *whole = mr_strdup(read_all(texts[t], 10));

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	    char *got = read_stepped(texts[t], steps[i], 10);

	    if (strcmp(got, whole) != 0)
		fail_msg("text %zu step %zu: \"%s\" != \"%s\"", t, steps[i], got, whole);
	    mr_free(got);
	}
	mr_free(whole);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_grammar),    cmocka_unit_test(test_errors),
	cmocka_unit_test(test_bounds),     cmocka_unit_test(test_nul_and_missing),
	cmocka_unit_test(test_byte_steps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
