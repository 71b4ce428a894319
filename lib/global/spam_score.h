/*
 * spam_score.h - the built-in spam scorer, for when no spamd runs.
 *
 * A resumable state machine over the raw message (header, empty line,
 * body; lines end in LF or CRLF), fed in pieces of any size. It keeps a
 * bounded prefix of the current header line and the progress of one
 * fixed-pattern search, nothing else, so its memory does not grow with
 * the message, plus one unfolded header field of interest (From,
 * Received) up to SPAM_FIELD_MAX bytes. Rules (score in tenths of a
 * point):
 *   GTUBE             the GTUBE test string in the body        1000.0
 *   MISSING_DATE      no Date: header field                       1.0
 *   MISSING_MID       no Message-ID: header field                 0.5
 *   MISSING_FROM      no From: header field                       1.5
 *   FROM_INVALID      From: without one plain address, or
 *                     more than one From: field                   1.5
 *   FROM_DISPLAY_ADDR the display name of From: holds another
 *                     address than the one in angle brackets      2.0
 *   FORGED_RECEIVED   a Received: field without "by", without
 *                     "; date", or with a bracketed address
 *                     that is no IPv4/IPv6 literal                 1.5
 * A field longer than SPAM_FIELD_MAX is judged on its first bytes.
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
#define SPAM_RULE_MISSING_FROM (1 << 3)
#define SPAM_RULE_FROM_INVALID (1 << 4)
#define SPAM_RULE_FROM_DISPLAY_ADDR (1 << 5)
#define SPAM_RULE_FORGED_RECEIVED (1 << 6)

/* Their scores, in tenths of a point */
#define SPAM_SCORE_GTUBE 10000
#define SPAM_SCORE_MISSING_DATE 10
#define SPAM_SCORE_MISSING_MID 5
#define SPAM_SCORE_MISSING_FROM 15
#define SPAM_SCORE_FROM_INVALID 15
#define SPAM_SCORE_FROM_DISPLAY_ADDR 20
#define SPAM_SCORE_FORGED_RECEIVED 15

/* The GTUBE test string (it marks a test message as spam) */
#define SPAM_GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
#define SPAM_GTUBE_LEN (sizeof(SPAM_GTUBE) - 1)

/* Bytes of a header line kept: enough for any name the rules look at */
#define SPAM_HEADER_PREFIX 64

/* Bytes of an unfolded From: or Received: field kept */
#define SPAM_FIELD_MAX 1024

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
    int seen_from;  /* From: fields so far */
    int field_kind; /* field being kept: 0 none, else SPAM_FIELD_* */
    size_t field_len;
    char field[SPAM_FIELD_MAX + 1];
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
