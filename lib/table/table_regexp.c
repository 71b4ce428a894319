/*
 * table_regexp.c - regexp:PATH and pcre:PATH tables (both PCRE2).
 *
 * Each rule is "/pattern/flags result" or "!/pattern/flags result"; the
 * first character after an optional '!' is the delimiter (usually '/').
 * Rules are tried in file order against the key as given; the first that
 * matches (or, with '!', does not) gives the result, in which $1..$9 or
 * ${n} are replaced by the captured text and $$ is a '$'.
 * Flags toggle: i case sensitivity (matching is case-INsensitive unless
 * i is given, as in Postfix), x extended syntax; pcre: also takes m, s
 * and U (multi-line, dot-all, ungreedy).
 * Every pattern is compiled at open time, so a bad rule is reported as
 * "file:line: ..." then, not at the first lookup.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <pcre2.h>
#include <string.h>

#include "table/table_priv.h"
#include "util/mymalloc.h"

typedef struct regexp_rule {
    pcre2_code *code;
    char *result;
    int negate;
    int lineno;
} regexp_rule_t;

typedef struct table_regexp {
    table_t t;
    regexp_rule_t *rules;
    size_t count;
    pcre2_match_data *md;
    char *path;
} table_regexp_t;

/* regexp_subst - expand $n in a result; -1 when a reference is bad */
static int regexp_subst(const char *result, const char *subject, pcre2_match_data *md, int groups,
			str_t *out)
{
    PCRE2_SIZE *ov = md ? pcre2_get_ovector_pointer(md) : NULL;

    for (const char *cp = result; *cp; cp++) {
	int n, brace;

	if (*cp != '$') {
	    str_appendc(out, *cp);
	    continue;
	}
	if (cp[1] == '$') {
	    str_appendc(out, '$');
	    cp++;
	    continue;
	}
	brace = (cp[1] == '{');
	if (!isdigit((unsigned char)cp[1 + brace]))
	    return -1;
	n = cp[1 + brace] - '0';
	cp += 1 + brace;
	while (brace && isdigit((unsigned char)cp[1]) && n < 100)
	    n = n * 10 + (*++cp - '0');
	if (brace && *++cp != '}')
	    return -1;
	if (n >= groups)
	    return -1;
	if (ov && ov[2 * n] != PCRE2_UNSET)
	    str_append(out, subject + ov[2 * n], ov[2 * n + 1] - ov[2 * n]);
    }
    return 0;
}

/* table_regexp_lookup - first matching rule wins */
static int table_regexp_lookup(table_t *t, const char *key, size_t len, str_t *value,
			       const char **error_r)
{
    table_regexp_t *x = (table_regexp_t *)t;

    for (size_t i = 0; i < x->count; i++) {
	regexp_rule_t *r = x->rules + i;
	int rc = pcre2_match(r->code, (PCRE2_SPTR)key, len, 0, 0, x->md, NULL);

	if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
	    *error_r = table_error(t, "%s:%d: matching error %d", x->path, r->lineno, rc);
	    return -1;
	}
	if ((rc >= 0) == r->negate)
	    continue;
	if (regexp_subst(r->result, key, r->negate ? NULL : x->md, 100, value) < 0) {
	    *error_r = table_error(t, "%s:%d: bad $ reference", x->path, r->lineno);
	    return -1;
	}
	return 1;
    }
    return 0;
}

/* table_regexp_close - free the rules */
static void table_regexp_close(table_t *t)
{
    table_regexp_t *x = (table_regexp_t *)t;

    for (size_t i = 0; i < x->count; i++) {
	pcre2_code_free(x->rules[i].code);
	mr_free(x->rules[i].result);
    }
    mr_free(x->rules);
    if (x->md)
	pcre2_match_data_free(x->md);
    mr_free(x->path);
}

/* regexp_flags - turn the flag letters into PCRE2 options */
static int regexp_flags(const char *cp, size_t len, int pcre, uint32_t *opts)
{
    *opts = PCRE2_CASELESS;
    for (size_t i = 0; i < len; i++) {
	switch (cp[i]) {
	case 'i':
	    *opts ^= PCRE2_CASELESS;
	    break;
	case 'x':
	    *opts ^= PCRE2_EXTENDED;
	    break;
	case 'm':
	    if (!pcre)
		return -1;
	    *opts ^= PCRE2_MULTILINE;
	    break;
	case 's':
	    if (!pcre)
		return -1;
	    *opts ^= PCRE2_DOTALL;
	    break;
	case 'U':
	    if (!pcre)
		return -1;
	    *opts ^= PCRE2_UNGREEDY;
	    break;
	default:
	    return -1;
	}
    }
    return 0;
}

/* regexp_parse - one rule line; -1 with "file:line: ..." in err */
static int regexp_parse(table_regexp_t *x, char *line, int lineno, int pcre, str_t *err)
{
    regexp_rule_t r = {.lineno = lineno};
    char *cp = line, *end, *flags;
    uint32_t opts;
    int ecode;
    PCRE2_SIZE eoff;
    uint32_t groups;

    if ((r.negate = (*cp == '!')))
	cp++;
    if (*cp == 0 || isalnum((unsigned char)*cp) || isspace((unsigned char)*cp)) {
	str_printf(err, "%s:%d: expected /pattern/flags result", x->path, lineno);
	return -1;
    }
    if ((end = strchr(cp + 1, *cp)) == NULL) {
	str_printf(err, "%s:%d: no closing '%c' after the pattern", x->path, lineno, *cp);
	return -1;
    }
    flags = end + 1;
    cp++;
    end[0] = 0;
    {
	size_t nflags = strcspn(flags, " \t");
	char *result = flags + nflags + strspn(flags + nflags, " \t");

	if (regexp_flags(flags, nflags, pcre, &opts) < 0) {
	    str_printf(err, "%s:%d: unknown flag in \"%.*s\"", x->path, lineno, (int)nflags, flags);
	    return -1;
	}
	if (*result == 0) {
	    str_printf(err, "%s:%d: no result after the pattern", x->path, lineno);
	    return -1;
	}
	r.result = result;
    }
    if ((r.code = pcre2_compile((PCRE2_SPTR)cp, PCRE2_ZERO_TERMINATED, opts, &ecode, &eoff,
				NULL)) == NULL) {
	PCRE2_UCHAR msg[256];

	pcre2_get_error_message(ecode, msg, sizeof(msg));
	str_printf(err, "%s:%d: bad pattern at offset %zu: %s", x->path, lineno, (size_t)eoff,
		   (char *)msg);
	return -1;
    }
    pcre2_pattern_info(r.code, PCRE2_INFO_CAPTURECOUNT, &groups);
    {
	str_t *probe = str_new(64);
	int bad = regexp_subst(r.result, "", NULL, r.negate ? 1 : (int)groups + 1, probe);

	str_free(&probe);
	if (bad) {
	    pcre2_code_free(r.code);
	    str_printf(err, "%s:%d: result refers to a group the pattern %s", x->path, lineno,
		       r.negate ? "cannot have (negated rule)" : "does not have");
	    return -1;
	}
    }
    r.result = mr_strdup(r.result);
    x->rules = mr_reallocarray(x->rules, x->count + 1, sizeof(*x->rules));
    x->rules[x->count++] = r;
    return 0;
}

/* table_regexp_load - open as regexp: or pcre: */
static table_t *table_regexp_load(const char *spec, const char *name, int pcre, str_t *err)
{
    table_regexp_t *x = (table_regexp_t *)table_alloc(sizeof(*x), spec);
    table_source_t *src;
    str_t *line = str_new(256);
    int r, lineno;

    x->t.no_fold = 1;
    x->t.lookup = table_regexp_lookup;
    x->t.close = table_regexp_close;
    x->path = mr_strdup(name);
    if ((src = table_source_open(name, TABLE_SRC_NOFOLD, err)) == NULL) {
	r = -1;
    } else {
	while ((r = table_source_line(src, line, &lineno, err)) > 0)
	    if ((r = regexp_parse(x, str_data(line), lineno, pcre, err)) < 0)
		break;
	table_source_close(&src);
    }
    str_free(&line);
    if (r < 0) {
	table_close((table_t **)&x);
	return NULL;
    }
    x->md = pcre2_match_data_create(100, NULL);
    table_watch(&x->t, name, -1);
    return &x->t;
}

table_t *table_regexp_open(const char *spec, const char *name, str_t *err)
{
    return table_regexp_load(spec, name, 0, err);
}

table_t *table_pcre_open(const char *spec, const char *name, str_t *err)
{
    return table_regexp_load(spec, name, 1, err);
}
