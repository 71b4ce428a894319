/*
 * spam_score.h - the built-in spam scorer, for when no spamd runs.
 *
 * A resumable state machine over the raw message (header, empty line,
 * body; lines end in LF or CRLF), fed in pieces of any size. It keeps a
 * bounded prefix of the current header line and the progress of one
 * fixed-pattern search, nothing else, so its memory does not grow with
 * the message. Rules (score in tenths of a point):
 *   GTUBE           the GTUBE test string in the body        1000.0
 *   MISSING_DATE    no Date: header field                       1.0
 *   MISSING_MID     no Message-ID: header field                 0.5
 * Header field names are recognised by lib/global/mail_header.
 */
#ifndef MR_SPAM_SCORE_H
#define MR_SPAM_SCORE_H

#include <stddef.h>

#include "util/str.h"

/* Rules, as bits of spam_score_t.rules */
#define SPAM_RULE_GTUBE (1 << 0)
#define SPAM_RULE_MISSING_DATE (1 << 1)
#define SPAM_RULE_MISSING_MID (1 << 2)

/* Their scores, in tenths of a point */
#define SPAM_SCORE_GTUBE 10000
#define SPAM_SCORE_MISSING_DATE 10
#define SPAM_SCORE_MISSING_MID 5

/* The GTUBE test string (it marks a test message as spam) */
#define SPAM_GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
#define SPAM_GTUBE_LEN (sizeof(SPAM_GTUBE) - 1)

/* Bytes of a header line kept: enough for any name the rules look at */
#define SPAM_HEADER_PREFIX 64

typedef struct spam_score {
    int in_body;       /* the empty line was seen */
    int ended;         /* spam_score_end was called */
    size_t line_bytes; /* bytes of the current line so far */
    size_t prefix_len; /* bytes kept in prefix */
    char prefix[SPAM_HEADER_PREFIX];
    size_t gtube_at;                       /* GTUBE bytes matched so far */
    size_t gtube_next[SPAM_GTUBE_LEN + 1]; /* failure table of the search */
    int seen_date;
    int seen_mid;
    int rules; /* SPAM_RULE_* hit (final after end) */
    int score; /* tenths of a point (final after end) */
} spam_score_t;

/* spam_score_init - start a message */
void spam_score_init(spam_score_t *s);
/* spam_score_feed - take len message bytes (all of them, always) */
void spam_score_feed(spam_score_t *s, const char *data, size_t len);
/* spam_score_end - the message is complete: sets and returns the score */
int spam_score_end(spam_score_t *s);
/* spam_score_rules - append the names of the rules hit, comma-separated
 * ("GTUBE,MISSING_DATE"), to out */
void spam_score_rules(int rules, str_t *out);

#endif
