/*
 * test_smtp_client_8bit.c - the 8BITMIME downgrade, byte by byte: every
 * message is fed whole and in 1, 2, 3 and 7-byte pieces and must give
 * the same output; quoted-printable output is checked exactly and decoded
 * back to the input; hostile structure (deep nesting, huge fields and
 * lines, boundaries that lie) passes through without loss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_helpers.h"
#include "global/header_2047.h"
#include "global/smtp_client_8bit.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* sink - collect the output as lines ended by '\n' */
static void sink(void *ctx, const char *data, size_t len, int complete)
{
    str_t *out = ctx;

    str_append(out, data, len);
    if (complete)
	str_appendc(out, '\n');
}

/* feed - in: lines ended by '\n' (the last may lack it), to m in
 * pieces of step bytes (0: whole lines), then the end */
static void feed(smtp_8bit_t *m, const char *in, size_t len, size_t step)
{
    const char *end = in + len;

    while (in < end) {
	const char *nl = memchr(in, '\n', (size_t)(end - in));
	size_t n = nl ? (size_t)(nl - in) : (size_t)(end - in), pos = 0;

	do {
	    size_t k = step == 0 || n - pos < step ? n - pos : step;

	    smtp_8bit_line(m, in + pos, k, nl != NULL && pos + k == n);
	    pos += k;
	} while (pos < n);
	in += n + (nl != NULL);
    }
    smtp_8bit_finish(m);
}

/* convert_scan - as the client does: a scan, then the conversion (scan
 * 0: the conversion alone); the output and the count of converted parts */
static str_t *convert_scan(const char *in, size_t len, size_t step, int scan, int *converted)
{
    str_t *out = str_new(len * 3 + 64);
    smtp_8bit_t *m = smtp_8bit_create(sink, out), *s = smtp_8bit_create(NULL, NULL);

    if (scan) {
	feed(s, in, len, step);
	smtp_8bit_learn(m, s);
    }
    smtp_8bit_free(&s);
    feed(m, in, len, step);
    if (converted)
	*converted = smtp_8bit_converted(m);
    smtp_8bit_free(&m);
    assert_null(m);
    return out;
}

/* convert - convert_scan with the scan */
static str_t *convert(const char *in, size_t len, size_t step, int *converted)
{
    return convert_scan(in, len, step, 1, converted);
}

/* check - every step size gives want (and nconv converted parts) */
static void check_len(const char *in, size_t len, const char *want, int nconv)
{
    static const size_t steps[] = {0, 1, 2, 3, 7};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	int conv;
	str_t *out = convert(in, len, steps[i], &conv);

	assert_string_equal(str_data(out), want);
	assert_int_equal(conv, nconv);
	str_free(&out);
    }
}

static void check(const char *in, const char *want, int nconv)
{
    check_len(in, strlen(in), want, nconv);
}

/* qp_decode - a quoted-printable body back to bytes (lines by '\n') */
static str_t *qp_decode(const char *in, size_t len)
{
    str_t *out = str_new(len + 1);

    for (size_t i = 0; i < len; i++) {
	if (in[i] != '=') {
	    str_appendc(out, in[i]);
	} else if (i + 1 < len && in[i + 1] == '\n') {
	    i++; /* soft line break */
	} else {
	    char hex[3] = {in[i + 1], in[i + 2], 0};

	    assert_true(i + 2 < len);
	    str_appendc(out, (int)strtol(hex, NULL, 16));
	    i += 2;
	}
    }
    return out;
}

/* assert_lines_max - no line of text is longer than max */
static void assert_lines_max(const char *text, size_t max)
{
    for (const char *p = text; *p;) {
	size_t n = strcspn(p, "\n");

	assert_true(n <= max);
	p += n + (p[n] == '\n');
    }
}

#define HDR "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"

static void test_single_part(void **state)
{
    check(HDR "Content-Transfer-Encoding: 8bit\nSubject: caf\xc3\xa9\n\n"
	      "caf\xc3\xa9 = ok\n"
	      "trailing blank \n"
	      "trailing tab\t\n"
	      "\n"
	      ".a dot\n"
	      "mid  \t blanks stay\n",
	  HDR "Subject: =?utf-8?Q?caf=C3=A9?=\n"
	      "Content-Transfer-Encoding: quoted-printable\n\n"
	      "caf=C3=A9 =3D ok\n"
	      "trailing blank=20\n"
	      "trailing tab=09\n"
	      "\n"
	      ".a dot\n"
	      "mid  \t blanks stay\n",
	  1);
    /* binary counts as 8-bit; the label may come before Content-Type */
    check("MIME-Version: 1.0\nContent-Transfer-Encoding: BINARY\nContent-Type: text/plain\n\n"
	  "\x01\xff\n",
	  "MIME-Version: 1.0\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n=01=FF\n",
	  1);
}

/* letters - n copies of c (static storage: two at a time, by slot) */
static const char *letters(char c, size_t n, int slot)
{
    static char buf[2][200];

    memset(buf[slot], c, n);
    buf[slot][n] = 0;
    return buf[slot];
}

static void test_soft_breaks(void **state)
{
    char in[400], want[600];
    str_t *body;

    /* 100 letters: 75, a soft break, 25 */
    snprintf(in, sizeof(in), HDR "Content-Transfer-Encoding: 8bit\n\n%s\n", letters('a', 100, 0));
    snprintf(want, sizeof(want), HDR "Content-Transfer-Encoding: quoted-printable\n\n%s=\n%s\n",
	     letters('a', 75, 0), letters('a', 25, 1));
    check(in, want, 1);
    /* 74 letters and an 8-bit byte: =E9 does not fit on the line, nor is
     * it split */
    snprintf(in, sizeof(in), HDR "Content-Transfer-Encoding: 8bit\n\n%s\xe9\n",
	     letters('b', 74, 0));
    snprintf(want, sizeof(want), HDR "Content-Transfer-Encoding: quoted-printable\n\n%s=\n=E9\n",
	     letters('b', 74, 0));
    check(in, want, 1);
    /* a blank at column 75 before the line end */
    snprintf(in, sizeof(in), HDR "Content-Transfer-Encoding: 8bit\n\n%s \n", letters('c', 74, 0));
    snprintf(want, sizeof(want), HDR "Content-Transfer-Encoding: quoted-printable\n\n%s=\n=20\n",
	     letters('c', 74, 0));
    check(in, want, 1);
    /* decoding gives the input back */
    body = qp_decode(strstr(want, "\n\n") + 2, strlen(strstr(want, "\n\n") + 2));
    assert_string_equal(str_data(body), strstr(in, "\n\n") + 2);
    str_free(&body);
}

#define MULTI                                                                                      \
    "MIME-Version: 1.0\n"                                                                          \
    "Content-Type: multipart/mixed;\n\tboundary=\"=_outer\"\n"                                     \
    "Content-Transfer-Encoding: 8bit\n"                                                            \
    "\n"                                                                                           \
    "preamble \xe9 stays\n"                                                                        \
    "--=_outer\n"                                                                                  \
    "Content-Type: text/plain; charset=iso-8859-1\n"                                               \
    "Content-Transfer-Encoding: 8bit\n"                                                            \
    "\n"                                                                                           \
    "d\xe9j\xe0 vu\n"                                                                              \
    "--=_outer\n"                                                                                  \
    "Content-Type: application/octet-stream\n"                                                     \
    "Content-Transfer-Encoding: base64\n"                                                          \
    "\n"                                                                                           \
    "AAECAwQF\n"                                                                                   \
    "--=_outer\n"                                                                                  \
    "Content-Type: multipart/alternative; boundary=inner\n"                                        \
    "\n"                                                                                           \
    "--inner\n"                                                                                    \
    "Content-Type: text/plain\n"                                                                   \
    "Content-Transfer-Encoding: 7bit\n"                                                            \
    "\n"                                                                                           \
    "plain = seven bits \n"                                                                        \
    "--inner\n"                                                                                    \
    "Content-Transfer-Encoding: 8bit\n"                                                            \
    "\n"                                                                                           \
    "\xc3\xbc\n"                                                                                   \
    "--inner--\n"                                                                                  \
    "inner epilogue\n"                                                                             \
    "--=_outer\n"                                                                                  \
    "Content-Type: message/rfc822\n"                                                               \
    "Content-Transfer-Encoding: 8bit\n"                                                            \
    "\n"                                                                                           \
    "Subject: inner \xe9\n"                                                                        \
    "Content-Type: text/plain\n"                                                                   \
    "Content-Transfer-Encoding: 8bit\n"                                                            \
    "\n"                                                                                           \
    "na\xefve\n"                                                                                   \
    "--=_outer-- \n"                                                                               \
    "epilogue \xe9 stays\n"

static void test_multipart(void **state)
{
    check(MULTI,
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed;\n\tboundary=\"=_outer\"\n"
	  "Content-Transfer-Encoding: 7bit\n"
	  "\n"
	  "preamble \xe9 stays\n"
	  "--=_outer\n"
	  "Content-Type: text/plain; charset=iso-8859-1\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "d=E9j=E0 vu\n"
	  "--=_outer\n"
	  "Content-Type: application/octet-stream\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "AAECAwQF\n"
	  "--=_outer\n"
	  "Content-Type: multipart/alternative; boundary=inner\n"
	  "\n"
	  "--inner\n"
	  "Content-Type: text/plain\n"
	  "Content-Transfer-Encoding: 7bit\n"
	  "\n"
	  "plain = seven bits \n"
	  "--inner\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "=C3=BC\n"
	  "--inner--\n"
	  "inner epilogue\n"
	  "--=_outer\n"
	  "Content-Type: message/rfc822\n"
	  "Content-Transfer-Encoding: 7bit\n"
	  "\n"
	  "Subject: =?unknown-8bit?Q?inner_=E9?=\n"
	  "Content-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "na=EFve\n"
	  "--=_outer-- \n"
	  "epilogue \xe9 stays\n",
	  3);
}

static void test_left_alone(void **state)
{
    /* no MIME-Version and seven bits: nothing to label */
    const char *plain = "Subject: x\nContent-Transfer-Encoding: 8bit\n\ndeja\n";
    /* 7bit, quoted-printable and base64 parts, unknown encodings */
    const char *seven = HDR "Content-Transfer-Encoding: 7bit\n\nplain = text \n";
    const char *qp = HDR "Content-Transfer-Encoding: Quoted-Printable\n\nd=E9j=E0\n";
    const char *odd = HDR "Content-Transfer-Encoding: x-uuencode\n\n\xe9\n";
    /* a last line without its end, and a message that is all header */
    const char *open = HDR "Content-Transfer-Encoding: 7bit\n\nno end";
    const char *hdr = HDR "Content-Transfer-Encoding: 8bit\n";

    check(plain, plain, 0);
    check(seven, seven, 0);
    check(qp, qp, 0);
    check(odd, odd, 0);
    check(open, HDR "Content-Transfer-Encoding: 7bit\n\nno end\n", 0);
    check(hdr, hdr, 0);
    check("", "", 0);
    /* a header block that ends without an empty line */
    check(HDR "Content-Transfer-Encoding: 8bit\nnot a header \xe9\n",
	  HDR "Content-Transfer-Encoding: quoted-printable\nnot a header =E9\n", 1);
}

/* unlabelled 8-bit bodies: found by the scan, encoded and labelled */
static void test_unlabelled(void **state)
{
    const char *mime = HDR "Subject: x\n\nd\xc3\xa9j\xc3\xa0\n";
    const char *plain = "Subject: x\n\nd\xe9j\xe0 = ok\n";
    str_t *out;
    int conv;

    check(mime, HDR "Subject: x\nContent-Transfer-Encoding: quoted-printable\n\nd=C3=A9j=C3=A0\n",
	  1);
    /* without MIME-Version: made a MIME message of an unknown 8-bit charset */
    check(plain,
	  "Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=unknown-8bit\n"
	  "Content-Transfer-Encoding: quoted-printable\n\nd=E9j=E0 =3D ok\n",
	  1);
    /* labelled 8bit without MIME-Version, 8-bit bytes: the same */
    check("Content-Transfer-Encoding: 8bit\n\n\xe9\n",
	  "MIME-Version: 1.0\nContent-Type: text/plain; charset=unknown-8bit\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n=E9\n",
	  1);
    /* a part labelled 7bit that is not, beside a true 7-bit one and one
     * without Content-Type */
    check("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
	  "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: 7bit\n\nd\xe9j\xe0\n"
	  "--b\nContent-Type: text/plain\n\nplain = text\n"
	  "--b\n\n\xfc\n"
	  "--b--\nepilogue \xe9\n",
	  "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
	  "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nd=E9j=E0\n"
	  "--b\nContent-Type: text/plain\n\nplain = text\n"
	  "--b\nContent-Type: text/plain; charset=unknown-8bit\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n=FC\n"
	  "--b--\nepilogue \xe9\n",
	  2);
    /* no MIME-Version but a multipart type: not ours to restructure */
    check("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n\xe9\n--b--\n",
	  "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n\xe9\n--b--\n", 0);
    /* without a scan only labels count, as before */
    out = convert_scan(mime, strlen(mime), 0, 0, &conv);
    assert_int_equal(conv, 0);
    assert_string_equal(str_data(out), mime);
    str_free(&out);
}

/* q_decode - the text of a field's encoded-words (joined, blanks
 * between words dropped), for a round trip */
static str_t *q_decode(const char *value)
{
    str_t *out = str_new(100);
    const char *p = value;

    while ((p = strstr(p, "=?")) != NULL) {
	const char *q = strstr(p, "?Q?"), *e;

	assert_non_null(q);
	e = strstr(q + 3, "?=");
	assert_non_null(e);
	assert_true(e + 2 - p <= 75);
	for (q += 3; q < e; q++) {
	    if (*q == '_') {
		str_appendc(out, ' ');
	    } else if (*q == '=') {
		char hex[3] = {q[1], q[2], 0};

		str_appendc(out, (int)strtol(hex, NULL, 16));
		q += 2;
	    } else {
		str_appendc(out, *q);
	    }
	}
	p = e + 2;
    }
    return out;
}

/* encode - header_2047_field of text, or NULL when left alone */
static char *encode(const char *field)
{
    str_t *out = str_new(100);
    char *ret = header_2047_field(out, field, strlen(field)) ? mr_strdup(str_data(out)) : NULL;

    str_free(&out);
    return ret;
}

static void check_encode(const char *field, const char *want)
{
    char *got = encode(field);

    if (want == NULL)
	assert_null(got);
    else
	assert_string_equal(got, want);
    mr_free(got);
}

static void test_headers(void **state)
{
    str_t *subject = str_new(300), *text;
    char *got;

    check_encode("Subject: caf\xc3\xa9 au lait", "Subject: =?utf-8?Q?caf=C3=A9_au_lait?=");
    check_encode("Subject: plain", NULL);
    check_encode("X-Note:\xe9t\xe9_?=", "X-Note: =?unknown-8bit?Q?=E9t=E9=5F=3F=3D?=");
    check_encode("Comments: folded\n\tacross \xc3\xa9",
		 "Comments: =?utf-8?Q?folded=09across_=C3=A9?=");
    /* structured fields keep their bytes */
    check_encode("Received: from h\xc3\xa9 (x)", NULL);
    check_encode("Message-ID: <\xc3\xa9@x>", NULL);
    /* addresses: the display name only */
    check_encode("From: \"J\xc3\xb6rg M\xc3\xbcller\" <j@example.com>",
		 "From: =?utf-8?Q?J=C3=B6rg_M=C3=BCller?= <j@example.com>");
    check_encode("To: a@example.com, J\xc3\xb6rg <j@example.com>,\n b@example.com",
		 "To: a@example.com, =?utf-8?Q?J=C3=B6rg?= <j@example.com>, b@example.com");
    /* an 8-bit address, a group, a comment: left as they are */
    check_encode("To: j\xc3\xb6rg@example.com", NULL);
    check_encode("Cc: Friends: J\xc3\xb6rg <j@x>;", NULL);
    check_encode("Cc: (J\xc3\xb6rg) j@x, Ren\xc3\xa9 <r@x>",
		 "Cc: (J\xc3\xb6rg) j@x, =?utf-8?Q?Ren=C3=A9?= <r@x>");
    /* a long subject: words of at most 75, lines of at most 76, no
     * character split, and the text decodes back */
    str_set(subject, "Subject: ");
    for (int i = 0; i < 40; i++)
	str_appends(subject, i ? " \xe2\x82\xac uro" : "\xe2\x82\xac uro");
    got = encode(str_data(subject));
    assert_non_null(got);
    assert_lines_max(got, 76);
    text = q_decode(got);
    assert_string_equal(str_data(text), str_data(subject) + 9);
    str_free(&text);
    mr_free(got);
    /* through the converter, in any pieces */
    check(HDR "From: Ren\xc3\xa9 <r@x>\nSubject: \xc3\xa9t\xc3\xa9\n\nbody\n",
	  HDR "From: =?utf-8?Q?Ren=C3=A9?= <r@x>\nSubject: =?utf-8?Q?=C3=A9t=C3=A9?=\n\nbody\n", 0);
    str_free(&subject);
}

static void test_hostile(void **state)
{
    str_t *in = str_new(1 << 20), *out, *body;
    int conv;

    /* a boundary that is too long: the multipart is opaque */
    str_set(in, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=");
    for (int i = 0; i < SMTP_8BIT_BOUNDARY_MAX + 1; i++)
	str_appendc(in, 'b');
    str_appends(in, "\n\n\xe9\n");
    check(str_data(in), str_data(in), 0);

    /* nesting deeper than the bound: the innermost parts pass through */
    str_set(in, "MIME-Version: 1.0\n");
    for (int i = 0; i < SMTP_8BIT_DEPTH + 5; i++)
	str_appendf(in, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    str_appends(in, "Content-Transfer-Encoding: 8bit\n\n\xe9\n");
    out = convert(str_data(in), str_len(in), 0, &conv);
    assert_int_equal(conv, 0);
    assert_string_equal(str_data(out), str_data(in));
    str_free(&out);

    /* a header field bigger than its bound passes through, uninterpreted */
    str_set(in, HDR "X-Big: ");
    for (int i = 0; i < SMTP_8BIT_FIELD_MAX / 10; i++)
	str_appends(in, "0123456789\n\tmore");
    str_appends(in, "\nContent-Transfer-Encoding: 8bit\n\n\xe9\n");
    out = convert(str_data(in), str_len(in), 0, &conv);
    assert_int_equal(conv, 1);
    assert_true(strstr(str_data(out), "\tmore0123456789\n\tmore\n") != NULL);
    assert_true(strstr(str_data(out), "quoted-printable\n\n=E9\n") != NULL);
    str_free(&out);
    out = convert(str_data(in), str_len(in), 7, &conv);
    assert_int_equal(conv, 1);
    str_free(&out);

    /* a body line of 100000 8-bit bytes: short lines that decode back */
    str_set(in, HDR "Content-Transfer-Encoding: 8bit\n\n");
    for (int i = 0; i < 100000; i++)
	str_appendc(in, 0x80 | (i & 0x7f));
    str_appendc(in, '\n');
    for (size_t step = 0; step <= 7; step += 7) {
	const char *b;

	out = convert(str_data(in), str_len(in), step, &conv);
	assert_int_equal(conv, 1);
	b = strstr(str_data(out), "\n\n") + 2;
	assert_lines_max(b, 76);
	body = qp_decode(b, strlen(b));
	assert_int_equal(str_len(body), 100001);
	assert_memory_equal(str_data(body), strstr(str_data(in), "\n\n") + 2, 100001);
	str_free(&body);
	str_free(&out);
    }
    /* a line that looks like a boundary but is too long to be one */
    str_set(in, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
		"Content-Transfer-Encoding: 8bit\n\n");
    str_appends(in, "--b");
    for (int i = 0; i < SMTP_8BIT_PEEK; i++)
	str_appendc(in, ' ');
    str_appends(in, "\n--b--\n");
    out = convert(str_data(in), str_len(in), 3, &conv);
    assert_int_equal(conv, 1);
    assert_true(strstr(str_data(out), "--b=20\n") == NULL);
    assert_true(strstr(str_data(out), "\n--b--\n") != NULL);
    str_free(&out);
    /* a header line longer than a peek, given whole or in pieces: the
     * same field, and the fields after it are still header */
    str_set(in, "X-Long: ");
    for (int i = 0; i < SMTP_8BIT_PEEK + 200; i++)
	str_appendc(in, 'a');
    str_appends(in, "\nSubject: caf\xc3\xa9\n\nbody\n");
    body = convert(str_data(in), str_len(in), 3, &conv);
    assert_non_null(strstr(str_data(body), "\nSubject: =?utf-8?Q?caf=C3=A9?=\n\nbody\n"));
    check(str_data(in), str_data(body), conv);
    str_free(&body);
    str_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_single_part), cmocka_unit_test(test_soft_breaks),
	cmocka_unit_test(test_multipart),   cmocka_unit_test(test_left_alone),
	cmocka_unit_test(test_hostile),     cmocka_unit_test(test_unlabelled),
	cmocka_unit_test(test_headers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
