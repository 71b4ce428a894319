/*
 * filterd_policy.c - a recipient's filter policy (see filterd_policy.h).
 * Points are read and written by lib/global/spam_filter, the one grammar
 * for scores.
 */
#include <string.h>

#include "filterd_policy.h"
#include "global/config.h"
#include "global/spam_filter.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* policy_action - "quarantine" 0, "reject" 1, else -1 */
static int policy_action(const char *value)
{
    if (mr_strcaseeq(value, "quarantine"))
	return 0;
    if (mr_strcaseeq(value, "reject"))
	return 1;
    return -1;
}

/* policy_bool - "yes" 1, "no" 0, else -1 */
static int policy_bool(const char *value)
{
    if (mr_strcaseeq(value, "yes"))
	return 1;
    if (mr_strcaseeq(value, "no"))
	return 0;
    return -1;
}

/* policy_word - one "name=value": 0 or -1 */
static int policy_word(char *word, filter_policy_t *p)
{
    char *value = strchr(word, '=');
    int n;

    if (value == NULL)
	return -1;
    *value++ = 0;
    if (mr_strcaseeq(word, "tag"))
	return spam_parse_points(value, &p->tag_level);
    if (mr_strcaseeq(word, "kill"))
	return spam_parse_points(value, &p->kill_level);
    if (mr_strcaseeq(word, "virus") && (n = policy_action(value)) >= 0)
	return p->virus_reject = n, 0;
    if (mr_strcaseeq(word, "spam") && (n = policy_action(value)) >= 0)
	return p->spam_reject = n, 0;
    if (mr_strcaseeq(word, "bypass") && (n = policy_bool(value)) >= 0)
	return p->bypass = n, 0;
    return -1;
}

/* filter_policy_parse - see filterd_policy.h */
int filter_policy_parse(const char *text, filter_policy_t *p, const char **error_r)
{
    char *copy = mr_strdup(text), *cursor = copy, *word;
    int ret = 0;

    while (ret == 0 && (word = next_token(&cursor, ", \t")) != NULL)
	if (*word && policy_word(word, p) < 0) {
	    *error_r = "bad policy word (tag=, kill=, virus=, spam=, bypass=)";
	    ret = -1;
	}
    mr_free(copy);
    return ret;
}

/* filter_policy_defaults - see filterd_policy.h */
int filter_policy_defaults(filter_policy_t *p, const char **error_r)
{
    memset(p, 0, sizeof(*p));
    if (spam_parse_points(config_str("filterd_spam_tag_level"), &p->tag_level) < 0 ||
	spam_parse_points(config_str("filterd_spam_kill_level"), &p->kill_level) < 0)
	return (*error_r = "filterd_spam_tag_level or filterd_spam_kill_level is not a number"), -1;
    if ((p->virus_reject = policy_action(config_str("filterd_virus_action"))) < 0 ||
	(p->spam_reject = policy_action(config_str("filterd_spam_action"))) < 0)
	return (*error_r = "filterd_virus_action or filterd_spam_action is not quarantine or "
			   "reject"),
	       -1;
    return 0;
}

/* filter_policy_same - see filterd_policy.h */
int filter_policy_same(const filter_policy_t *a, const filter_policy_t *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}
