/*
 * test_filterd_header.c - filterd's header changes (removal of our fields
 * as the client sent them, the Subject tag), each message fed as whole
 * lines and as lines cut into pieces of 1, 2, 3 and 7 bytes, and with
 * hostile line and name lengths.
 */
#include <string.h>

#include "unit_helpers.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "../../filterd/filterd_header.h"

/* run - the message (LF-ended lines) through the filter, lines cut into
 * pieces of step bytes (0: whole); the output with LF line ends */
static void run(const char *in, const char *tag, size_t step, str_t *result)
{
    filter_header_t h;
    str_t *out = str_new(64);
    const char *line = in, *nl;

    filter_header_init(&h, tag);
    str_reset(result);
    while (*line) {
	size_t len, pos = 0;

	nl = strchr(line, '\n');
	len = nl ? (size_t)(nl - line) : strlen(line);
	do {
	    size_t n = step == 0 || len - pos < step ? len - pos : step;
	    int complete = pos + n == len;

	    if (filter_header_piece(&h, line + pos, n, complete, out)) {
		str_append(result, str_data(out), str_len(out));
		if (complete)
		    str_appendc(result, '\n');
	    }
	    pos += n;
	} while (pos < len);
	line += len + (nl != NULL);
    }
    str_free(&out);
}

/* check - every step gives want */
static void check(const char *in, const char *tag, const char *want)
{
    size_t steps[] = {0, 1, 2, 3, 7};
    str_t *got = str_new(256);

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	run(in, tag, steps[i], got);
	if (strcmp(str_data(got), want) != 0)
	    fail_msg("step %zu: got %zu bytes \"%.60s...%s\", want %zu \"%.60s...%s\"", steps[i],
		     str_len(got), str_data(got),
		     str_data(got) + (str_len(got) > 40 ? str_len(got) - 40 : 0), strlen(want),
		     want, want + (strlen(want) > 40 ? strlen(want) - 40 : 0));
    }
    str_free(&got);
}

/* test_removed - our fields, any case, with their continuation lines */
static void test_removed(void **state)
{
    check("X-Spam-Flag: NO\nFrom: a\nx-spam-status: No,\n\tscore=-5\n  tests=none\n"
	  "X-Virus-Scanned: yes\nX-Spam-Score: 0\nX-Spam-Level: \nTo: b\n\nbody\n",
	  NULL, "From: a\nTo: b\n\nbody\n");
    /* the same names in the body stay */
    check("From: a\n\nX-Spam-Flag: NO\n", NULL, "From: a\n\nX-Spam-Flag: NO\n");
    /* look-alikes stay */
    check("X-Spam-Flags: x\nX-Spam-Flag-Old: y\nX-Spam: z\n\n", NULL,
	  "X-Spam-Flags: x\nX-Spam-Flag-Old: y\nX-Spam: z\n\n");
}

/* test_subject - the tag goes after "Subject:" and a blank */
static void test_subject(void **state)
{
    check("Subject: hello\n world\nFrom: a\n\nSubject: body\n", "[SPAM]",
	  "Subject: [SPAM] hello\n world\nFrom: a\n\nSubject: body\n");
    check("SUBJECT:x\n\n", "[SPAM]", "SUBJECT: [SPAM]x\n\n");
    check("Subject: hello\n\n", NULL, "Subject: hello\n\n");
    check("Subject: hello\n\n", "", "Subject: hello\n\n");
}

/* test_header_end - the header ends at an empty line or a non-field */
static void test_header_end(void **state)
{
    check("From: a\nnot a field\nX-Spam-Flag: YES\n", NULL,
	  "From: a\nnot a field\nX-Spam-Flag: YES\n");
    check("\nX-Spam-Flag: YES\n", NULL, "\nX-Spam-Flag: YES\n");
}

/* test_hostile - long names and lines cannot end the header early nor
 * smuggle our fields through */
static void test_hostile(void **state)
{
    str_t *in = str_new(100000), *want = str_new(100000);

    /* a 5000-byte field name: kept, and the header goes on */
    for (int i = 0; i < 5000; i++)
	str_appendc(in, 'N');
    str_appends(in, ": v\nX-Spam-Flag: NO\n\nb\n");
    str_setn(want, str_data(in), 5004);
    str_appends(want, "\nb\n");
    check(str_data(in), NULL, str_data(want));
    /* a 50000-byte value of one of ours goes whole */
    str_set(in, "X-Spam-Status: ");
    for (int i = 0; i < 50000; i++)
	str_appendc(in, 'v');
    str_appends(in, "\nSubject: s\n\n");
    check(str_data(in), "T", "Subject: T s\n\n");
    str_free(&in);
    str_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_removed),
	cmocka_unit_test(test_subject),
	cmocka_unit_test(test_header_end),
	cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
