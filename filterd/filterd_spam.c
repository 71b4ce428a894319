/*
 * filterd_spam.c - scoring users and groups of recipients (see
 * filterd_spam.h). A transaction has at most filterd_recipient_limit
 * recipients and few distinct groups, so a linear search per group
 * is enough: no hash table to build for each message.
 */
#include <string.h>

#include "filterd_spam.h"
#include "util/mymalloc.h"

/* group_key_same - equal keys, NULL equal only to NULL */
static int group_key_same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
	return a == b;
    return strcmp(a, b) == 0;
}

/* filter_group - see filterd_spam.h */
size_t filter_group(const char *const *keys, size_t n, size_t *group_r)
{
    size_t *first = mr_calloc(n ? n : 1, sizeof(*first)), groups = 0, g;

    for (size_t i = 0; i < n; i++) {
	for (g = 0; g < groups && !group_key_same(keys[first[g]], keys[i]); g++)
	    continue;
	if (g == groups)
	    first[groups++] = i;
	group_r[i] = g;
    }
    mr_free(first);
    return groups;
}

/* filter_spam_users - see filterd_spam.h */
size_t filter_spam_users(const char *const *rcpts, size_t n, int per_user, size_t limit,
			 const char **users_r, size_t *of_r, int *over_r)
{
    size_t count = 0, k;

    *over_r = 0;
    for (size_t i = 0; per_user && i < n; i++) {
	of_r[i] = 0;
	if (rcpts[i] == NULL)
	    continue;
	for (k = 0; k < count && strcmp(users_r[k], rcpts[i]) != 0; k++)
	    continue;
	if (k == count && count == limit) {
	    *over_r = 1;
	    break;
	}
	if (k == count)
	    users_r[count++] = rcpts[i];
	of_r[i] = k;
    }
    if (!per_user || *over_r || count == 0) {
	users_r[0] = NULL;
	for (size_t i = 0; i < n; i++)
	    of_r[i] = 0;
	count = 1;
    }
    return count;
}
