/*
 * filterd_scan.h - the content filter's scanners behind one small
 * interface.
 *
 * A scanner sees the message once, as it lies in the spool file, in
 * pieces of any size (start, with the file and its size; feed; finish),
 * or, without a feed, reads the file itself from start to finish (clamd,
 * handed the file's descriptor). Then it adds
 * what it found to a verdict: a virus scanner
 * (clamd) sets the virus part, a spam scorer (lib/global/spam_filter:
 * spamd, or the built-in rules and Bayes) adds to the score and the rule
 * list of each scoring user (filterd_spam.h). A new scanner is one more filter_scanner_t in the
 * table of filterd_scan.c and a name that filterd_scanners may list; filterd itself knows no
 * scanner by name.
 *
 * Scanners run in filterd's worker processes (filterd_pool.c), so they
 * may block, bounded by their own timeouts.
 */
#ifndef MR_FILTERD_SCAN_H
#define MR_FILTERD_SCAN_H

#include <stddef.h>

#include "util/str.h"

/* What the virus scanners said (filter_verdict_t.virus) */
#define FILTER_VIRUS_NONE 0   /* no virus scanner ran */
#define FILTER_VIRUS_CLEAN 1  /* scanned, nothing found */
#define FILTER_VIRUS_FOUND 2  /* virus_text names what was found */
#define FILTER_VIRUS_ERROR 3  /* no verdict; virus_text says why */
#define FILTER_VIRUS_TOOBIG 4 /* larger than the scanner takes: not scanned */

/* filter_spam_t - the spam score for one scoring user */
typedef struct filter_spam {
    int scanned;    /* a spam scorer gave a score */
    int score;      /* in tenths of a point, summed */
    str_t *rules;   /* "RULE,RULE" */
    str_t *problem; /* a spam scorer that failed, and why */
} filter_spam_t;

/* filter_verdict_t - what every scanner together found */
typedef struct filter_verdict {
    int virus;               /* FILTER_VIRUS_* (the worst one wins) */
    str_t *virus_text;       /* signature name, or the reason of an error */
    str_t *virus_by;         /* names of the virus scanners that ran */
    size_t spam_count;       /* scoring users, at least 1 */
    const char **spam_users; /* [spam_count]: the user of each (NULL: none) */
    filter_spam_t *spam;     /* [spam_count]: the score for each */
} filter_verdict_t;

/* filter_verdict_init - a verdict for the count scoring users of users
 * (filterd_spam.h; users NULL: one, without a user); the strings are
 * copied. filter_verdict_free - its storage. */
void filter_verdict_init(filter_verdict_t *v, const char *const *users, size_t count);
void filter_verdict_free(filter_verdict_t *v);

/* filter_scan_in_t - what a scanner is told at the start of a message */
typedef struct filter_scan_in {
    int fd;                        /* the spool file: read it with pread
				    * only (another scanner may move its
				    * offset) */
    long long size;                /* bytes, -1 when unknown */
    const char *const *spam_users; /* the scoring users of the verdict */
    size_t spam_count;
} filter_scan_in_t;

/* filter_scanner_t - one scanner */
typedef struct filter_scanner {
    const char *name; /* as listed in filterd_scanners */
    /* start - begin one message (in->fd, in->size); the state is the
     * scanner's (finish reports any problem) */
    void *(*start)(const filter_scan_in_t *in);
    /* feed - len message bytes; NULL: the scanner reads fd itself */
    void (*feed)(void *state, const char *data, size_t len);
    /* finish - the message is complete: add the findings to v and free
     * the state */
    void (*finish)(void *state, filter_verdict_t *v);
} filter_scanner_t;

/* filter_scanner_find - the scanner of that name, or NULL */
const filter_scanner_t *filter_scanner_find(const char *name);

/* filter_scan_fd - run the scanners named in the comma/space list over
 * what can be read from fd (from its start) and fill v. Returns 0, or -1
 * when the file could not be read (*error_r). */
int filter_scan_fd(const char *names, int fd, filter_verdict_t *v, const char **error_r);

/* filter_verdict_virus - record one virus scanner's outcome: too big
 * overrides clean, an error both, a find every other */
void filter_verdict_virus(filter_verdict_t *v, int status, const char *text);

#endif
