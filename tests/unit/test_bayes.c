/*
 * test_bayes.c - the Bayes classifier: the tokenizer (header prefixes,
 * skipped fields, the same tokens in 1, 2, 3 and 7-byte steps, a bounded
 * set for a huge message), Fisher's combination, the database (learn
 * once, move to the other class, forget, a missing database, user
 * names), and a corpus of spam and ham generated here: after learning
 * part of it, every held-out message lands on its side.
 */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "util/str.h"
#include "global/bayes.h"

/* tokens_of - tokenize len bytes in steps (0: all at once) */
static void tokens_of(bayes_tokens_t *t, const char *in, size_t len, size_t step)
{
    size_t pos = 0;

    bayes_tokens_init(t, 5000);
    while (pos < len) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;

	bayes_tokens_feed(t, in + pos, n);
	pos += n;
    }
    bayes_tokens_end(t);
}

/* has - is token in the set? */
static int has(const bayes_tokens_t *t, const char *token)
{
    size_t vlen;

    return htable_get(t->set, token, strlen(token), &vlen) != NULL;
}

/* test_tokenizer - what becomes a token, the same in every step size */
static void test_tokenizer(void **state)
{
    const char msg[] = "Subject: Cheap PILLS, cheap!\r\n"
		       "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n"
		       "Received: from relay.example.org\r\n"
		       "\tby mx.example.net\r\n"
		       "From: \"Winner\" <prize@lottery.example>\r\n"
		       "X-Long-Field-Name-That-Goes-On-And-On-Forever: word\r\n"
		       "\r\n"
		       "Claim your PRIZE now... at http://lottery.example/claim\r\n"
		       "Subject: body-words are not header words\r\n"
		       "ab xyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyz end";
    size_t steps[] = {0, 1, 2, 3, 7};
    bayes_tokens_t t;
    uint64_t hash = 0;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	tokens_of(&t, msg, sizeof(msg) - 1, steps[i]);
	assert_true(has(&t, "subject:cheap"));
	assert_true(has(&t, "subject:pills"));
	assert_true(has(&t, "from:winner"));
	assert_true(has(&t, "from:prize@lottery.example"));
	assert_true(has(&t, "claim"));
	assert_true(has(&t, "prize"));
	assert_true(has(&t, "now"));
	assert_true(has(&t, "lottery.example"));
	assert_true(has(&t, "body-words"));
	assert_true(has(&t, "end"));
	/* skipped fields, continuation of a skipped field, long names */
	assert_false(has(&t, "date:fri"));
	assert_false(has(&t, "received:relay.example.org"));
	assert_false(has(&t, "received:mx.example.net"));
	assert_false(has(&t, "mx.example.net"));
	assert_false(has(&t, "word"));
	/* short and too long words, header words in the body */
	assert_false(has(&t, "ab"));
	assert_false(has(&t, "xyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyz"));
	assert_false(has(&t, "subject:body-words"));
	if (i == 0)
	    hash = t.hash;
	assert_true(t.hash == hash);
	assert_true(has(&t, "http") && has(&t, "subject") && has(&t, "header"));
	assert_int_equal(bayes_tokens_count(&t), 17);
	bayes_tokens_free(&t);
    }
}

/* test_bounded - a huge message keeps at most max tokens */
static void test_bounded(void **state)
{
    str_t *in = str_new(1 << 20);
    bayes_tokens_t t;

    str_appends(in, "Subject: x\n\n");
    for (int i = 0; i < 100000; i++)
	str_appendf(in, "word%d ", i);
    bayes_tokens_init(&t, 1000);
    bayes_tokens_feed(&t, str_data(in), str_len(in));
    bayes_tokens_end(&t);
    assert_int_equal(bayes_tokens_count(&t), 1000);
    bayes_tokens_free(&t);
    str_free(&in);
}

/* test_combine - Fisher's method and the rule table */
static void test_combine(void **state)
{
    double spammy[] = {0.99, 0.98, 0.95, 0.9}, hammy[] = {0.01, 0.02, 0.05, 0.1};
    double mixed[] = {0.99, 0.01}, neutral[] = {0.5, 0.5};
    int score;

    assert_true(bayes_combine(spammy, 4) > 0.99);
    assert_true(bayes_combine(hammy, 4) < 0.01);
    assert_true(bayes_combine(mixed, 2) > 0.4 && bayes_combine(mixed, 2) < 0.6);
    assert_true(bayes_combine(neutral, 2) > 0.45 && bayes_combine(neutral, 2) < 0.55);
    assert_true(bayes_combine(NULL, 0) == 0.5);
    assert_string_equal(bayes_rule(0.999, &score), "BAYES_99");
    assert_int_equal(score, 35);
    assert_string_equal(bayes_rule(0.5, &score), "BAYES_50");
    assert_string_equal(bayes_rule(0.0, &score), "BAYES_00");
    assert_int_equal(score, -19);
}

/* rng - a small deterministic generator */
static unsigned rng_next(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static const char *spam_words[] = {
    "viagra",   "cheap",    "pills",  "offer",   "winner",     "lottery", "claim",
    "prize",    "money",    "casino", "bitcoin", "investment", "urgent",  "click",
    "discount", "pharmacy", "loan",   "credit",  "guaranteed", "million", "limited"};
static const char *ham_words[] = {
    "meeting", "project", "schedule", "report",    "review",  "lunch",    "tomorrow",
    "agenda",  "budget",  "draft",    "team",      "release", "patch",    "build",
    "deploy",  "notes",   "minutes",  "quarterly", "kernel",  "compiler", "thursday"};
static const char *common_words[] = {"the",   "and",    "you",    "your",  "this",
				     "that",  "with",   "have",   "will",  "from",
				     "about", "please", "thanks", "hello", "regards"};

#define NWORDS(a) (sizeof(a) / sizeof(a[0]))

/* corpus_message - a generated message of one class */
static void corpus_message(str_t *out, int spam, unsigned *seed)
{
    const char **own = spam ? spam_words : ham_words, **other = spam ? ham_words : spam_words;
    size_t nown = spam ? NWORDS(spam_words) : NWORDS(ham_words);
    size_t nother = spam ? NWORDS(ham_words) : NWORDS(spam_words);
    unsigned words = 30 + rng_next(seed) % 40;

    str_printf(out,
	       "From: %s@%s\r\nTo: user@example.org\r\nSubject: %s %s\r\n"
	       "Date: Fri, 27 Nov 2026 12:00:%02u +0000\r\nMessage-ID: <%u@x>\r\n\r\n",
	       spam ? "promo" : "colleague", spam ? "deals.example" : "example.org",
	       own[rng_next(seed) % nown], own[rng_next(seed) % nown], rng_next(seed) % 60,
	       rng_next(seed));
    for (unsigned i = 0; i < words; i++) {
	unsigned r = rng_next(seed) % 100;
	const char *w = r < 50   ? own[rng_next(seed) % nown]
			: r < 90 ? common_words[rng_next(seed) % NWORDS(common_words)]
				 : other[rng_next(seed) % nother];

	str_appendf(out, "%s%s", w, i % 12 == 11 ? "\r\n" : " ");
    }
    str_appends(out, "\r\n");
}

/* learn_one - tokenize and learn; returns bayes_learn's result */
static int learn_one(bayes_t *b, const str_t *msg, int spam, int forget)
{
    bayes_tokens_t t;
    const char *error;
    int rc;

    tokens_of(&t, str_data(msg), str_len(msg), 0);
    rc = bayes_learn(b, &t, spam, forget, &error);
    bayes_tokens_free(&t);
    return rc;
}

/* classify_one - the probability of a message */
static bayes_result_t classify_one(bayes_t *b, const str_t *msg, long min)
{
    bayes_tokens_t t;
    bayes_result_t res;
    const char *error;

    tokens_of(&t, str_data(msg), str_len(msg), 0);
    assert_int_equal(bayes_classify(b, &t, min, &res, &error), 0);
    bayes_tokens_free(&t);
    return res;
}

/* test_corpus - learn 40 + 40, then 30 + 30 unseen messages separate */
static void test_corpus(void **state)
{
    char dir[300];
    str_t *msg = str_new(4096);
    unsigned seed = 2463534242u;
    bayes_t *b;
    const char *error;
    long ns, nh;

    snprintf(dir, sizeof(dir), "%s/bayes-corpus", unit_tmpdir());
    assert_int_equal(bayes_open(dir, NULL, 1, &b, &error), 1);
    for (int i = 0; i < 80; i++) {
	corpus_message(msg, i % 2, &seed);
	assert_int_equal(learn_one(b, msg, i % 2, 0), 1);
    }
    assert_int_equal(bayes_totals(b, &ns, &nh, &error), 0);
    assert_int_equal(ns, 40);
    assert_int_equal(nh, 40);
    /* too little learned for the minimum: no vote */
    corpus_message(msg, 1, &seed);
    assert_false(classify_one(b, msg, 41).voted);
    bayes_close(&b);

    assert_int_equal(bayes_open(dir, NULL, 0, &b, &error), 1);
    for (int i = 0; i < 60; i++) {
	bayes_result_t res;

	corpus_message(msg, i % 2, &seed);
	res = classify_one(b, msg, 20);
	assert_true(res.voted);
	if (i % 2 ? res.prob < 0.80 : res.prob > 0.20)
	    fail_msg("message %d (%s) got %.4f %s:\n%s", i, i % 2 ? "spam" : "ham", res.prob,
		     res.rule, str_data(msg));
    }
    bayes_close(&b);
    str_free(&msg);
}

/* test_learn_once - twice is nothing, the other class moves, forget */
static void test_learn_once(void **state)
{
    char dir[300];
    str_t *msg = str_new(4096);
    unsigned seed = 99;
    bayes_t *b;
    const char *error;
    long ns, nh;

    snprintf(dir, sizeof(dir), "%s/bayes-once", unit_tmpdir());
    /* nothing learned yet: read-only open finds no database */
    assert_int_equal(bayes_open(dir, NULL, 0, &b, &error), 0);
    assert_null(b);
    assert_int_equal(bayes_open(dir, "alice@example.org", 1, &b, &error), 1);
    corpus_message(msg, 1, &seed);
    assert_int_equal(learn_one(b, msg, 1, 0), 1);
    assert_int_equal(learn_one(b, msg, 1, 0), 0);
    assert_int_equal(bayes_totals(b, &ns, &nh, &error), 0);
    assert_true(ns == 1 && nh == 0);
    assert_int_equal(learn_one(b, msg, 0, 0), 1);
    assert_int_equal(bayes_totals(b, &ns, &nh, &error), 0);
    assert_true(ns == 0 && nh == 1);
    assert_int_equal(learn_one(b, msg, 0, 1), 1);
    assert_int_equal(learn_one(b, msg, 0, 1), 0);
    assert_int_equal(bayes_totals(b, &ns, &nh, &error), 0);
    assert_true(ns == 0 && nh == 0);
    bayes_close(&b);
    /* the per-user file is where the docs say */
    {
	char path[400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/user/alice@example.org.db", dir);
	assert_int_equal(stat(path, &st), 0);
    }
    assert_int_equal(bayes_open(dir, "../etc/passwd", 1, &b, &error), -1);
    assert_int_equal(bayes_open(dir, ".hidden", 1, &b, &error), -1);
    assert_int_equal(bayes_open(dir, "", 1, &b, &error), -1);
    assert_string_equal(error, "unusable user name for a Bayes database");
    str_free(&msg);
}

/* lock_free - can the lock file of dir's global database be locked
 * for writing at once (no reader holds it)? */
static int lock_free(const char *dir)
{
    char path[400];
    int fd, ok;

    snprintf(path, sizeof(path), "%s/global.db.lock", dir);
    assert_true((fd = open(path, O_RDONLY)) >= 0);
    ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return ok;
}

/* test_reader_kept - the reader's handle is kept between uses, holds no
 * lock between them, and is opened again once a writer has been at the
 * database (or the file was replaced) */
static void test_reader_kept(void **state)
{
    char dir[300], path[400], copy[400];
    str_t *msg = str_new(4096);
    unsigned seed = 7;
    bayes_t *w, *r, *first;
    const char *error;
    long ns, nh;
    int i;

    snprintf(dir, sizeof(dir), "%s/bayes-kept", unit_tmpdir());
    assert_int_equal(bayes_reader_get(dir, NULL, &r, &error), 0); /* nothing yet */
    assert_null(r);
    assert_int_equal(bayes_open(dir, NULL, 1, &w, &error), 1);
    for (i = 0; i < 4; i++) {
	corpus_message(msg, i % 2, &seed);
	assert_int_equal(learn_one(w, msg, i % 2, 0), 1);
    }
    bayes_close(&w);
    assert_int_equal(bayes_reader_get(dir, NULL, &r, &error), 1);
    first = r;
    assert_int_equal(bayes_totals(r, &ns, &nh, &error), 0);
    assert_true(ns == 2 && nh == 2);
    assert_false(lock_free(dir)); /* in use: shared lock */
    bayes_reader_put(&r);
    assert_null(r);
    assert_true(lock_free(dir)); /* kept, but not locked */
    /* nothing written: the same handle */
    assert_int_equal(bayes_reader_get(dir, NULL, &r, &error), 1);
    assert_ptr_equal(r, first);
    bayes_reader_put(&r);
    /* a writer learns one more: the reader sees it */
    assert_int_equal(bayes_open(dir, NULL, 1, &w, &error), 1);
    corpus_message(msg, 1, &seed);
    assert_int_equal(learn_one(w, msg, 1, 0), 1);
    bayes_close(&w);
    assert_int_equal(bayes_reader_get(dir, NULL, &r, &error), 1);
    assert_int_equal(bayes_totals(r, &ns, &nh, &error), 0);
    assert_true(ns == 3 && nh == 2);
    bayes_reader_put(&r);
    /* the file replaced by another database (no writer of ours) */
    snprintf(path, sizeof(path), "%s/global.db", dir);
    assert_int_equal(bayes_open(dir, "other", 1, &w, &error), 1);
    corpus_message(msg, 0, &seed);
    assert_int_equal(learn_one(w, msg, 0, 0), 1);
    bayes_close(&w);
    snprintf(copy, sizeof(copy), "%s/user/other.db", dir);
    assert_int_equal(rename(copy, path), 0);
    assert_int_equal(bayes_reader_get(dir, NULL, &r, &error), 1);
    assert_int_equal(bayes_totals(r, &ns, &nh, &error), 0);
    assert_true(ns == 0 && nh == 1);
    bayes_reader_put(&r);
    /* another user's database: the kept one is closed, the other opened */
    assert_int_equal(bayes_reader_get(dir, "nobody-here", &r, &error), 0);
    assert_null(r);
    str_free(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_tokenizer),  cmocka_unit_test(test_bounded),
	cmocka_unit_test(test_combine),    cmocka_unit_test(test_corpus),
	cmocka_unit_test(test_learn_once), cmocka_unit_test(test_reader_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
