/*
 * config_value.c - the syntax of each parameter type, in one place.
 *
 * "mailroom check" (config_validate), the skeleton (config_fill) and the
 * typed accessors all parse through config_value_check, so the rules for
 * what "300s", "10m" or "yes" mean cannot drift apart.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "config.h"

typedef int (*value_parse_fn)(const char *value, long long *num_r);

typedef struct {
    const char *name;
    value_parse_fn parse; /* NULL: any text */
    const char *expect;   /* what the syntax wants, for errors */
} value_type_t;

/* value_number - a decimal number; *end_r at the first byte after it */
static int value_number(const char *value, long long *num_r, const char **end_r)
{
    char *end;

    if (!isdigit((unsigned char)*value) && *value != '-')
	return -1;
    errno = 0;
    *num_r = strtoll(value, &end, 10);
    *end_r = end;
    return errno || end == value ? -1 : 0;
}

/* value_scale - multiply by a unit without overflow */
static int value_scale(long long *num_r, long long mult)
{
    if (*num_r < 0 || *num_r > LLONG_MAX / mult)
	return -1;
    *num_r *= mult;
    return 0;
}

/* value_int - a plain decimal number */
static int value_int(const char *value, long long *num_r)
{
    const char *end;

    return value_number(value, num_r, &end) < 0 || *end ? -1 : 0;
}

/* value_time - seconds, with an optional one-letter unit */
static int value_time(const char *value, long long *num_r)
{
    static const char units[] = "smhdw";
    static const long long mult[] = {1, 60, 3600, 86400, 604800};
    const char *end, *unit;

    if (value_number(value, num_r, &end) < 0 || *num_r < 0)
	return -1;
    if (*end == 0)
	return 0;
    if (end[1] != 0 || (unit = strchr(units, *end)) == NULL)
	return -1;
    return value_scale(num_r, mult[unit - units]);
}

/* value_size - bytes, with an optional k/m/g (kb/mb/gb) suffix */
static int value_size(const char *value, long long *num_r)
{
    static const char units[] = "kmg";
    static const long long mult[] = {1024, 1024 * 1024, 1024 * 1024 * 1024};
    const char *end, *unit;

    if (value_number(value, num_r, &end) < 0 || *num_r < 0)
	return -1;
    if (*end == 0)
	return 0;
    if ((unit = strchr(units, tolower((unsigned char)*end))) == NULL ||
	!(end[1] == 0 || (tolower((unsigned char)end[1]) == 'b' && end[2] == 0)))
	return -1;
    return value_scale(num_r, mult[unit - units]);
}

/* value_bool - yes/true/1 or no/false/0 */
static int value_bool(const char *value, long long *num_r)
{
    if (mr_strcaseeq(value, "yes") || mr_strcaseeq(value, "true") || strcmp(value, "1") == 0)
	*num_r = 1;
    else if (mr_strcaseeq(value, "no") || mr_strcaseeq(value, "false") || strcmp(value, "0") == 0)
	*num_r = 0;
    else
	return -1;
    return 0;
}

/* Indexed by param_type_t. */
static const value_type_t value_types[] = {
    [PARAM_T_STR] = {"string", NULL, NULL},
    [PARAM_T_BOOL] = {"bool", value_bool, "yes or no"},
    [PARAM_T_INT] = {"int", value_int, "a whole number"},
    [PARAM_T_TIME] = {"time", value_time,
		      "a number of seconds with an optional unit s, m, h, d or w"},
    [PARAM_T_SIZE] = {"size", value_size, "a number of bytes with an optional unit k, m or g"},
    [PARAM_T_LIST] = {"list", NULL, NULL},
    [PARAM_T_TABLE] = {"table", NULL, NULL},
};

const char *config_type_name(param_type_t type)
{
    return (unsigned)type < sizeof(value_types) / sizeof(value_types[0]) ? value_types[type].name
									 : "unknown";
}

/* value_limit_problem - text for a number outside [min, max] */
static const char *value_limit_problem(const param_def_t *def, long long num)
{
    static char problem[200];
    long long max = def->max;

    if (def->min == 0 && max == 0)
	max = def->type == PARAM_T_SIZE ? LLONG_MAX : INT_MAX;
    if (num >= def->min && num <= max)
	return NULL;
    snprintf(problem, sizeof(problem), "out of range: the %s must be in [%lld..%lld]",
	     value_types[def->type].name, def->min, max);
    return problem;
}

int config_value_check(const param_def_t *def, const char *value, long long *num_r,
		       const char **problem_r)
{
    static char problem[200];
    const value_type_t *t =
	&value_types[(unsigned)def->type <= PARAM_T_TABLE ? def->type : PARAM_T_STR];

    *num_r = 0;
    if (strlen(value) > CONFIG_VALUE_MAX) {
	snprintf(problem, sizeof(problem), "value longer than %d bytes", CONFIG_VALUE_MAX);
	*problem_r = problem;
	return -1;
    }
    if (t->parse == NULL)
	return 0;
    if (t->parse(value, num_r) < 0) {
	snprintf(problem, sizeof(problem), "bad %s value (expected %s)", t->name, t->expect);
	*problem_r = problem;
	return -1;
    }
    if (def->type != PARAM_T_BOOL && (*problem_r = value_limit_problem(def, *num_r)) != NULL)
	return -1;
    return 0;
}
