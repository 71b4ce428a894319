/*
 * filterd_policy.h - what filterd does for one recipient: its spam tag
 * and kill levels, what happens to a virus or kill-level spam, and
 * whether it bypasses the filter. The defaults come from the parameters;
 * filterd_policy_maps may give a recipient (or its domain, with the
 * usual address fall-backs) its own, as a value of words:
 *
 *   alice@example.org   tag=2.0 kill=8.0 spam=reject
 *   @example.net        virus=reject
 *   postmaster@x.org    bypass=yes
 *
 *   tag=POINTS     X-Spam-Flag: YES and the subject tag from this score
 *   kill=POINTS    quarantine or reject from this score
 *   virus=ACTION   quarantine or reject a virus
 *   spam=ACTION    quarantine or reject spam at the kill level
 *   bypass=yes|no  deliver unchanged, whatever the scanners say
 * Words not given keep the default; an unknown word or a bad value makes
 * the lookup fail (a temporary error, logged), never a silent default.
 */
#ifndef MR_FILTERD_POLICY_H
#define MR_FILTERD_POLICY_H

typedef struct filter_policy {
    int tag_level;    /* tenths of a point */
    int kill_level;   /* tenths of a point */
    int virus_reject; /* 1 reject, 0 quarantine */
    int spam_reject;  /* 1 reject, 0 quarantine */
    int bypass;       /* deliver unchanged */
} filter_policy_t;

/* filter_policy_defaults - the parameters' policy: 0, or -1 with
 * *error_r when a parameter is not valid */
int filter_policy_defaults(filter_policy_t *p, const char **error_r);
/* filter_policy_parse - apply the words of text to p: 0, or -1 with
 * *error_r (static) */
int filter_policy_parse(const char *text, filter_policy_t *p, const char **error_r);
/* filter_policy_same - do two recipients get the same treatment? */
int filter_policy_same(const filter_policy_t *a, const filter_policy_t *b);

#endif
