/*
 * bayes.h - a Bayesian spam classifier: a streaming tokenizer, a token
 * database in Berkeley DB, Robinson's per-token probabilities combined
 * with Fisher's chi-square method.
 *
 * Tokens: words of 3 to BAYES_WORD_MAX bytes (letters, digits, bytes
 * above 127, and . - _ ' $ @ ! inside a word), lowercased; in the header
 * each word is prefixed with its field name ("subject:viagra"), and
 * the fields every message has with different values (Date, Message-ID,
 * Received and our own X-Spam-*) are skipped. A message gives at most
 * max_tokens distinct tokens (the first ones), so memory is bounded
 * whatever its size. The body is not MIME-decoded: a base64 part gives
 * few usable words (its lines are longer than a word).
 *
 * Database: one file per user ("DIR/user/NAME.db") or one for all
 * ("DIR/global.db"), a Berkeley DB hash of token -> (spam count, ham
 * count), plus the totals and a record of each message learned (a 64-bit
 * hash of its bytes -> its class), so that learning a message twice does
 * nothing and learning it as the other class moves it. Readers take a
 * shared flock on "FILE.lock", learners an exclusive one.
 *
 * Returns follow the usual convention: -1 error (text in *error_r,
 * static storage), 0 no / nothing, 1 yes.
 */
#ifndef MR_BAYES_H
#define MR_BAYES_H

#include <stddef.h>
#include <stdint.h>

#include "util/htable.h"

#define BAYES_WORD_MAX 40     /* longest word kept, bytes */
#define BAYES_NAME_MAX 32     /* field name bytes kept for the prefix */
#define BAYES_INTERESTING 150 /* tokens that vote at most */

/* bayes_tokens_t - the distinct tokens of one message */
typedef struct bayes_tokens {
    htable_t *set;  /* token -> "" */
    size_t max;     /* distinct tokens kept at most */
    uint64_t hash;  /* FNV-1a of every byte (the message's identity) */
    int in_body;    /* past the empty line */
    int line_start; /* at the first byte of a line */
    int in_name;    /* reading a field name */
    int skip_field; /* the current field gives no tokens */
    int line_blank; /* only a CR so far on this line */
    size_t name_len;
    char name[BAYES_NAME_MAX + 1];
    size_t word_len; /* bytes of the current word; > MAX: too long */
    char word[BAYES_WORD_MAX + BAYES_NAME_MAX + 2];
} bayes_tokens_t;

/* bayes_tokens_init - start a message; max distinct tokens kept */
void bayes_tokens_init(bayes_tokens_t *t, size_t max);
/* bayes_tokens_feed - take len message bytes */
void bayes_tokens_feed(bayes_tokens_t *t, const char *data, size_t len);
/* bayes_tokens_end - the message is complete */
void bayes_tokens_end(bayes_tokens_t *t);
/* bayes_tokens_free - release the set */
void bayes_tokens_free(bayes_tokens_t *t);
/* bayes_tokens_count - distinct tokens */
size_t bayes_tokens_count(const bayes_tokens_t *t);

/* bayes_t - an open token database */
typedef struct bayes bayes_t;

/* bayes_open - open the database of user (NULL: the global one) under
 * dir; writable creates it (and dir/user) when missing. A user name
 * must be 1-200 bytes of letters, digits and ._@+- not starting with
 * '.'. A missing database opened read-only is 0 with *bp NULL (nothing
 * learned yet); 1 opened; -1 error. */
int bayes_open(const char *dir, const char *user, int writable, bayes_t **bp, const char **error_r);
/* bayes_close - close and free; sets *bp to NULL */
void bayes_close(bayes_t **bp);
/* bayes_reader_get - bayes_open read-only, for a process that reads
 * again and again: the handle kept by the last bayes_reader_put when it
 * is for the same database and nothing has written to it since (see
 * bayes.c), else a new one. Returns as bayes_open. */
int bayes_reader_get(const char *dir, const char *user, bayes_t **bp, const char **error_r);
/* bayes_reader_put - done with a handle of bayes_reader_get: its lock
 * is dropped and it is kept for the next bayes_reader_get (one at a
 * time; the one kept before is closed); sets *bp to NULL */
void bayes_reader_put(bayes_t **bp);
/* bayes_learn - learn the message's tokens as spam or ham (forget: take
 * it out again). 1 learned, 0 nothing to do (already learned as that
 * class; forget: not learned), -1 error */
int bayes_learn(bayes_t *b, const bayes_tokens_t *t, int is_spam, int forget, const char **error_r);
/* bayes_totals - messages learned: 0 ok, -1 error */
int bayes_totals(bayes_t *b, long *nspam_r, long *nham_r, const char **error_r);

/* bayes_result_t - a classification */
typedef struct bayes_result {
    int voted;        /* 0: too little learned, prob/score mean nothing */
    double prob;      /* 0 ham .. 1 spam */
    int score;        /* tenths of a point */
    const char *rule; /* "BAYES_99" ... "BAYES_00", NULL when not voted */
    int used;         /* tokens that voted */
} bayes_result_t;

/* bayes_classify - judge the message; min_learned spam and as many ham
 * messages must have been learned for a vote. 0 ok, -1 error */
int bayes_classify(bayes_t *b, const bayes_tokens_t *t, long min_learned, bayes_result_t *res,
		   const char **error_r);
/* bayes_combine - Fisher's combination of token probabilities (exposed
 * for tests): 0 ham .. 1 spam, 0.5 for n == 0 */
double bayes_combine(const double *f, int n);
/* bayes_rule - the rule name and score (tenths) of a probability */
const char *bayes_rule(double prob, int *score_r);

#endif
