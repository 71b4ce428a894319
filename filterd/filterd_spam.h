/*
 * filterd_spam.h - for whom the content filter scores a message, and
 * how it sorts recipients into groups that are treated alike.
 *
 * A spam score may depend on the recipient: spamd takes the recipient
 * as User (its preferences and Bayes data), the built-in scorer asks the
 * recipient's Bayes database (lib/global/spam_filter.h,
 * spam_filter_per_user). The recipients of one message are then scored
 * once per distinct user, bounded by filterd_spam_user_limit; above it
 * the message is scored once for all, as without per-user scoring.
 * Recipients that end alike (the same fields, the same quarantine
 * reason) are grouped, so that each group is re-injected or kept in one
 * piece.
 */
#ifndef MR_FILTERD_SPAM_H
#define MR_FILTERD_SPAM_H

#include <stddef.h>

/* filter_group - sort n items into groups of equal keys (a NULL key
 * equals only a NULL key): group_r[i] is the group of item i, numbered
 * from 0 in the order of each group's first item. Returns the number of
 * groups. Costs n comparisons per group. */
size_t filter_group(const char *const *keys, size_t n, size_t *group_r);

/* filter_spam_users - the users n recipients are scored for. rcpts[i]
 * is recipient i's user, or NULL when its score does not matter (it
 * bypasses the filter). With per_user, each distinct user is scored
 * (users_r, n entries of room, gets them in order, of_r[i] the index of
 * recipient i's; a recipient with NULL gets 0); without it, or with more
 * than limit distinct users (*over_r set), one score, for user NULL, is
 * everybody's. Returns the number of users scored, at least 1. */
size_t filter_spam_users(const char *const *rcpts, size_t n, int per_user, size_t limit,
			 const char **users_r, size_t *of_r, int *over_r);

#endif
