/*
 * test_spam_score.c - the built-in spam scorer, fed whole and in 1, 2, 3
 * and 7-byte steps, with hostile line lengths and near misses of GTUBE.
 */
#include <string.h>

#include "unit_helpers.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "global/spam_score.h"

#define HDRS                                                                                       \
    "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n"                     \
    "From: A <a@example.org>\r\n"

/* run - score len bytes fed in steps (0: all at once); rules into *rules_r */
static int run(const char *in, size_t len, size_t step, int *rules_r)
{
    spam_score_t s;
    size_t pos = 0;
    int score;

    spam_score_init(&s);
    while (pos < len) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;

	spam_score_feed(&s, in + pos, n);
	pos += n;
    }
    score = spam_score_end(&s);
    *rules_r = s.rules;
    return score;
}

/* check_n - every step size gives the expected score and rule names */
static void check_n(const char *in, size_t len, int want_score, const char *want_rules)
{
    size_t steps[] = {0, 1, 2, 3, 7};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	str_t *names = str_new(64);
	int rules, score = run(in, len, steps[i], &rules);

	spam_score_rules(rules, names);
	if (score != want_score || strcmp(str_data(names), want_rules) != 0)
	    fail_msg("input \"%.*s\" step %zu: got %d \"%s\"; want %d \"%s\"", (int)len, in,
		     steps[i], score, str_data(names), want_score, want_rules);
	str_free(&names);
    }
}

#define check(in, score, rules) check_n(in, strlen(in), score, rules)

/* test_headers - Date and Message-ID, any case, LF or CRLF */
static void test_headers(void **state)
{
    check(HDRS "\r\nhello\r\n", 0, "");
    check("date: x\nmessage-id: <y>\nfrom: a@b.example\n\nhello\n", 0, "");
    check("Message-Id: <y>\r\nSubject: s\r\n\r\n", 25, "MISSING_DATE,MISSING_FROM");
    check("Date: x\r\nSubject: s\r\n\r\n", 20, "MISSING_MID,MISSING_FROM");
    check("Subject: s\r\n\r\n", 30, "MISSING_DATE,MISSING_MID,MISSING_FROM");
    check("", 30, "MISSING_DATE,MISSING_MID,MISSING_FROM");
    /* no body, last line unterminated */
    check("Message-ID: <y>\r\nDate: x", 15, "MISSING_FROM");
    check("Message-ID: <y>\r\nDate: x\r\nFrom: a@b.example", 0, "");
    /* the same names in the body, in a continuation, or without a colon
     * do not count */
    check("Subject: s\r\n\r\nDate: x\r\nMessage-ID: <y>\r\n", 30,
	  "MISSING_DATE,MISSING_MID,MISSING_FROM");
    check("Subject: s\r\n Date: x\r\n\tMessage-ID: <y>\r\n\r\n", 30,
	  "MISSING_DATE,MISSING_MID,MISSING_FROM");
    check("Date x\r\nMessage-ID <y>\r\n\r\n", 30, "MISSING_DATE,MISSING_MID,MISSING_FROM");
    check("X-Date: x\r\nMessage-IDs: <y>\r\n\r\n", 30, "MISSING_DATE,MISSING_MID,MISSING_FROM");
    /* a bare CR line is not the end of the header; CR CR LF is no empty line */
    check("Subject: s\r\n\r\r\nDate: x\r\nMessage-ID: <y>\r\n\r\n", 15, "MISSING_FROM");
}

/* test_gtube - in the body, split anywhere, near misses ignored */
static void test_gtube(void **state)
{
    check(HDRS "\r\n" SPAM_GTUBE "\r\n", 10000, "GTUBE");
    check(HDRS "\r\nsome text " SPAM_GTUBE " more", 10000, "GTUBE");
    check("\n" SPAM_GTUBE, 10030, "GTUBE,MISSING_DATE,MISSING_MID,MISSING_FROM");
    /* in the header: not a body rule */
    check("Subject: " SPAM_GTUBE "\r\n" HDRS "\r\nhi\r\n", 0, "");
    /* one byte short, one byte changed */
    check(HDRS "\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34\r\n", 0,
	  "");
    check(HDRS "\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.35X\r\n", 0,
	  "");
    /* a false start that overlaps the real one */
    check(HDRS "\r\nXJS*XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X",
	  10000, "GTUBE");
    check(HDRS "\r\nXXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X", 10000,
	  "GTUBE");
}

/* test_hostile - huge header lines and bodies keep the state bounded */
static void test_hostile(void **state)
{
    size_t n = 100000;
    str_t *in = str_new(n + 200);

    /* a long header line that starts with "Date:" counts once */
    str_appends(in, "Date: ");
    for (size_t i = 0; i < n; i++)
	str_appendc(in, 'x');
    str_appends(in, "\r\nMessage-ID: <y>\r\nFrom: a@b.example\r\n\r\n");
    check_n(str_data(in), str_len(in), 0, "");
    /* a long line whose name part is too long to be one of ours */
    str_reset(in);
    for (size_t i = 0; i < n; i++)
	str_appendc(in, 'D');
    str_appends(in, ": x\r\n\r\n");
    check_n(str_data(in), str_len(in), 30, "MISSING_DATE,MISSING_MID,MISSING_FROM");
    /* a huge body of GTUBE prefixes, then the string */
    str_reset(in);
    str_appends(in, HDRS "\r\n");
    for (size_t i = 0; i < 2000; i++)
	str_appends(in, "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE");
    str_appends(in, SPAM_GTUBE);
    check_n(str_data(in), str_len(in), 10000, "GTUBE");
    /* NUL bytes are just bytes */
    check_n("Date: x\0y\nMessage-ID: <\0>\n\n\0" SPAM_GTUBE, 28 + SPAM_GTUBE_LEN, 10015,
	    "GTUBE,MISSING_FROM");
    str_free(&in);
}

/* test_from - missing, invalid, a different address in the display name */
static void test_from(void **state)
{
#define DM "Date: x\r\nMessage-ID: <y>\r\n"
    check(DM "From: plain@example.org\r\n\r\n", 0, "");
    check(DM "From: plain@example.org (Old Style)\r\n\r\n", 0, "");
    check(DM "From: \"Alice\" <alice@example.org>\r\n\r\n", 0, "");
    check(DM "From: \"alice@example.org\" <ALICE@example.org>\r\n\r\n", 0, "");
    check(DM "From: Alice\r\n <alice@[192.0.2.1]>\r\n\r\n", 0, "");
    check(DM "From: \"service@bank.example\" <x@evil.example>\r\n\r\n", 20, "FROM_DISPLAY_ADDR");
    /* folded: the address is on the continuation line */
    check(DM "From: \"Bank (service@bank.example)\"\r\n\t<x@evil.example>\r\n\r\n", 20,
	  "FROM_DISPLAY_ADDR");
    /* an @ in the name that is no address */
    check(DM "From: \"Bob @ home\" <bob@example.org>\r\n\r\n", 0, "");
    check(DM "From: \r\n\r\n", 15, "FROM_INVALID");
    check(DM "From: undisclosed-recipients:;\r\n\r\n", 15, "FROM_INVALID");
    check(DM "From: Alice <alice>\r\n\r\n", 15, "FROM_INVALID");
    check(DM "From: Alice <alice@example.org\r\n\r\n", 15, "FROM_INVALID");
    check(DM "From: a@example.org, b@example.org\r\n\r\n", 15, "FROM_INVALID");
    check(DM "From: <a@example.org> <b@example.org>\r\n\r\n", 15, "FROM_INVALID");
    check(DM "From: a@example.org\r\nFrom: a@example.org\r\n\r\n", 15, "FROM_INVALID");
    /* From in the body does not count; From as the last, unterminated line does */
    check(DM "\r\nFrom: a@example.org\r\n", 15, "MISSING_FROM");
    check(DM "From: \"a@evil.example\" <b@example.org>", 20, "FROM_DISPLAY_ADDR");
}

/* test_received - the shape of Received: fields */
static void test_received(void **state)
{
    check(HDRS "Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n"
	       "\tby mail.example.net with ESMTP id 1; Fri, 27 Nov 2026 12:00:00 +0000\r\n\r\n",
	  0, "");
    check(HDRS "Received: from x ([IPv6:2001:db8::1]) by y; 27 Nov 2026\r\n\r\n", 0, "");
    check(HDRS "Received: by y.example; 27 Nov 2026\r\n\r\n", 0, "");
    check(HDRS "Received: from x ([300.1.2.3]) by y; 27 Nov 2026\r\n\r\n", 15, "FORGED_RECEIVED");
    check(HDRS "Received: from x ([192.0.2.1) by y; 27 Nov 2026\r\n\r\n", 15, "FORGED_RECEIVED");
    check(HDRS "Received: from x.example with SMTP; 27 Nov 2026\r\n\r\n", 15, "FORGED_RECEIVED");
    check(HDRS "Received: from x by y.example\r\n\r\n", 15, "FORGED_RECEIVED");
    check(HDRS "Received: from x by y.example;\r\n\r\n", 15, "FORGED_RECEIVED");
    check(HDRS "Received: from standby.example; 1 Jan\r\n\r\n", 15, "FORGED_RECEIVED");
    /* a good one and a bad one */
    check(HDRS "Received: by a; 1 Jan\r\nReceived: from b; 1 Jan\r\n\r\n", 15, "FORGED_RECEIVED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_headers),  cmocka_unit_test(test_gtube),
	cmocka_unit_test(test_hostile),  cmocka_unit_test(test_from),
	cmocka_unit_test(test_received),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
