/*
 * spam_filter.h - the spam scanner the content filter calls: one
 * function that scores a spooled message for a recipient's policy, with
 * spamd when filterd_spamd_address is set, else with the built-in rules
 * (spam_score.h) and the Bayes classifier (bayes.h); and learning a
 * message as spam or ham where the scoring happens (spamd TELL, or the
 * Bayes database).
 *
 * Parameters (params_filter.c): filterd_spamd_address, spamd_timeout,
 * spamd_max_size, spam_threshold, spam_bayes, spam_bayes_directory,
 * spam_bayes_per_user, spam_bayes_min_learned, spam_bayes_max_tokens,
 * filterd_spamd_per_user.
 * They are read with config_*() when called, so the caller loads
 * mailroom.conf first.
 */
#ifndef MR_SPAM_FILTER_H
#define MR_SPAM_FILTER_H

#include <stddef.h>

#include "util/str.h"
#include "spamd_client.h"

/* Verdicts */
#define SPAM_VERDICT_HAM 0
#define SPAM_VERDICT_SPAM 1
#define SPAM_VERDICT_ERROR 2     /* no verdict: reason says why */
#define SPAM_VERDICT_UNSCANNED 3 /* larger than spamd_max_size: not scored */

/* Use the spam_threshold parameter */
#define SPAM_POLICY_THRESHOLD_DEFAULT (-1000000)

/* spam_policy_t - what the recipient asks for */
typedef struct spam_policy {
    const char *user; /* recipient address: spamd's User, the per-user
		       * Bayes database; NULL: none (global) */
    int threshold;    /* tenths of a point, or ..._DEFAULT */
} spam_policy_t;

/* spam_verdict_t - the outcome of a scan */
typedef struct spam_verdict {
    int status;                     /* SPAM_VERDICT_* */
    int score;                      /* tenths of a point */
    int threshold;                  /* tenths, the one applied */
    const char *scanner;            /* "spamd" or "builtin" */
    char rules[SPAMD_BODY_MAX + 1]; /* comma-separated names hit */
    char reason[SPAMD_TEXT_MAX];    /* ERROR, UNSCANNED */
} spam_verdict_t;

/* spam_scan_t - one message being scored, fed in pieces */
typedef struct spam_scan spam_scan_t;

/* spam_scan_start - begin scoring a message of size bytes (spamd needs
 * the size first: -1 when unknown is an error with spamd) */
spam_scan_t *spam_scan_start(const spam_policy_t *policy, long long size);
/* spam_scan_feed - message bytes, in pieces of any size */
void spam_scan_feed(spam_scan_t *s, const char *data, size_t len);
/* spam_scan_abort - the message could not be read whole: the verdict
 * will be an error with this reason */
void spam_scan_abort(spam_scan_t *s, const char *reason);
/* spam_scan_finish - the verdict into v; frees *sp and sets it to NULL;
 * returns v->status (spam_scan_end, then spam_scan_free) */
int spam_scan_finish(spam_scan_t **sp, spam_verdict_t *v);
/* spam_scan_end - the message is complete: the verdict for the policy's
 * user into v; returns v->status. Once per scan. */
int spam_scan_end(spam_scan_t *s, spam_verdict_t *v);
/* spam_scan_other - after spam_scan_end, the verdict for another user
 * (NULL: none) with the same threshold. The built-in scorer does not
 * read the message again: the rules found stay, and only that user's
 * Bayes database is asked. spamd scores per user as a whole, so it is
 * asked again, with the message read from the start of fd (a regular
 * file, read with pread). Returns v->status. */
int spam_scan_other(spam_scan_t *s, const char *user, int fd, spam_verdict_t *v);
/* spam_scan_free - release a scan; sets *sp to NULL */
void spam_scan_free(spam_scan_t **sp);
/* spam_filter_per_user - does the content filter score each recipient
 * as a user of its own? With spamd: filterd_spamd_per_user (the
 * recipient goes as User); with the built-in scorer: spam_bayes and
 * spam_bayes_per_user (the recipient's Bayes database). 1 yes, 0 no. */
int spam_filter_per_user(void);

/* spam_filter_fd - score what can be read from fd, from its current
 * offset to its end (a regular file: spamd needs the size first).
 * Returns v->status. A Bayes database that cannot be read is logged and
 * scoring goes on without it; every spamd failure is an ERROR. */
int spam_filter_fd(int fd, const spam_policy_t *policy, spam_verdict_t *v);
/* spam_filter_headers - the X-Spam-* header lines for a verdict (CRLF
 * line ends): X-Spam-Flag (spam only), X-Spam-Score, X-Spam-Status */
void spam_filter_headers(const spam_verdict_t *v, str_t *out);
/* spam_format_points - tenths as "12.3" or "-0.5" into buf; returns buf */
const char *spam_format_points(int tenths, char *buf, size_t size);
/* spam_parse_points - "5", "5.0", "-1.5" in tenths; 0 ok, -1 bad */
int spam_parse_points(const char *text, int *tenths_r);

/* spam_learn_fd - learn the message on fd (from its offset) as spam or
 * ham, or forget it, for user (NULL: global). With spamd: a TELL; else
 * the Bayes database. 1 learned, 0 nothing to do (already learned),
 * -1 error; *text_r says what happened (static storage). */
int spam_learn_fd(int fd, const char *user, int is_spam, int forget, const char **text_r);

#endif
