/*
 * config.c - reading mailroom.conf and answering typed queries.
 *
 * All known parameters are gathered from the params_*.c tables into one
 * array sorted by name (binary search). A value set in the file or on the
 * command line overrides the default; expansion of $name happens on first
 * use and is cached per parameter, so a reference costs one expansion no
 * matter how often it appears. A parameter met again while it is being
 * expanded is a loop ("a = $b, b = $a"), and an expanded value may not
 * grow past CONFIG_VALUE_MAX ("a = $b$b$b$b" ten levels deep): both are
 * errors with the file:line of the value, never a hang or gigabytes.
 *
 * Typed checks (config_value.c) are shared by "mailroom check"
 * (config_validate), the skeleton (config_fill) and the accessors.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/lline.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "config.h"

extern const param_def_t *const params_all[];

typedef struct {
    const param_def_t *def;
    char *value;        /* from file/override, or NULL */
    int line;           /* line in the file, 0 if not there */
    char *expanded;     /* cache */
    int expanding;      /* being expanded: a reference is a loop */
    char *var_copy;     /* the string *def->str_var points to */
    char *computed_def; /* def->def_fn's answer, asked once */
} config_entry_t;

#define CONFIG_LINE_OVERRIDE (-1) /* e->line of a -o value */

typedef struct {
    char *name;
    int line;
} config_unknown_t;

static config_entry_t *config_entries;
static size_t config_count;
static config_unknown_t *config_unknowns;
static size_t config_unknown_count;
static char *config_directory_path;
static char *config_file_path;

/* config_cmp - order entries by name */
static int config_cmp(const void *a, const void *b)
{
    return strcmp(((const config_entry_t *)a)->def->name, ((const config_entry_t *)b)->def->name);
}

/* config_init - build the sorted table once */
static void config_init(void)
{
    size_t n = 0;

    if (config_entries)
	return;
    for (int t = 0; params_all[t]; t++)
	for (const param_def_t *d = params_all[t]; d->name; d++)
	    n++;
    config_entries = mr_calloc(n, sizeof(*config_entries));
    for (int t = 0; params_all[t]; t++)
	for (const param_def_t *d = params_all[t]; d->name; d++)
	    config_entries[config_count++].def = d;
    qsort(config_entries, config_count, sizeof(*config_entries), config_cmp);
    for (size_t i = 1; i < config_count; i++)
	if (strcmp(config_entries[i].def->name, config_entries[i - 1].def->name) == 0)
	    msg_panic("parameter %s declared twice", config_entries[i].def->name);
}

/* config_entry - look up by name, or NULL */
static config_entry_t *config_entry(const char *name)
{
    param_def_t key_def = {.name = name};
    config_entry_t key = {.def = &key_def};

    config_init();
    return bsearch(&key, config_entries, config_count, sizeof(key), config_cmp);
}

const param_def_t *config_find(const char *name)
{
    config_entry_t *e = config_entry(name);

    return e ? e->def : NULL;
}

/* config_flush_cache - values changed: forget every expansion */
static void config_flush_cache(void)
{
    for (size_t i = 0; i < config_count; i++) {
	mr_free(config_entries[i].expanded);
	config_entries[i].expanded = NULL;
    }
}

/* config_store - remember a value for a name (known or not) */
static void config_store(const char *name, const char *value, int line)
{
    config_entry_t *e = config_entry(name);

    if (e == NULL) {
	config_unknowns =
	    mr_reallocarray(config_unknowns, config_unknown_count + 1, sizeof(*config_unknowns));
	config_unknowns[config_unknown_count++] = (config_unknown_t){mr_strdup(name), line};
	return;
    }
    mr_free(e->value);
    e->value = mr_strdup(value);
    e->line = line;
    config_flush_cache();
}

void config_override(const char *name, const char *value)
{
    config_store(name, value, CONFIG_LINE_OVERRIDE);
}

void config_restore(const char *name, const char *value, int line)
{
    config_entry_t *e = config_entry(name);

    if (e == NULL)
	return;
    mr_free(e->value);
    e->value = value ? mr_strdup(value) : NULL;
    e->line = value ? line : 0;
    config_flush_cache();
}

int config_parse_override(const char *assignment)
{
    char *copy = mr_strdup(assignment), *value;
    int ret = -1;

    if ((value = split_at(copy, '=')) != NULL) {
	char *name = trim_space(copy);

	if (*name && config_find(name)) {
	    config_override(name, trim_space(value));
	    ret = 0;
	}
    }
    mr_free(copy);
    return ret;
}

/* config_commit_logical - store one "name = value" logical line */
static int config_commit_logical(str_t *logical, int line, const char **error_r)
{
    static char err[700];
    char *name, *value;

    if (str_len(logical) == 0)
	return 0;
    name = str_data(logical);
    if ((value = split_at(name, '=')) == NULL) {
	snprintf(err, sizeof(err), "%s:%d: missing '=' after parameter name", config_file_path,
		 line);
	*error_r = err;
	return -1;
    }
    name = trim_space(name);
    if (*name == 0 || strpbrk(name, " \t$")) {
	snprintf(err, sizeof(err), "%s:%d: bad parameter name \"%.100s\"", config_file_path, line,
		 name);
	*error_r = err;
	return -1;
    }
    config_store(name, trim_space(value), line);
    str_reset(logical);
    return 0;
}

/* config_parse - every logical line of the file */
static int config_parse(lline_t *reader, const char **error_r)
{
    static char err[700];
    str_t *logical = str_new(256), *problem = str_new(100);
    int line, r = 0, ret = 0;

    /* a bad line is reported, and the rest of the file still read, so
     * that "mailroom stop" and "status" find the queue directory */
    while ((r = lline_next(reader, logical, &line, problem)) > 0) {
	const char *line_error;

	if (config_commit_logical(logical, line, &line_error) < 0 && ret == 0) {
	    *error_r = line_error;
	    ret = -1;
	}
    }
    if (ret == 0 && r < 0) {
	mr_strlcpy(err, str_data(problem), sizeof(err));
	*error_r = err;
	ret = -1;
    }
    str_free(&logical);
    str_free(&problem);
    return ret;
}

int config_load(const char *dir, const char **error_r)
{
    static char err[700];
    str_t *problem;
    lline_t *reader;
    int ret;

    config_init();
    if (dir == NULL)
	dir = getenv("MAILROOM_CONFIG_DIR");
    if (dir == NULL || *dir == 0)
	dir = DEF_CONFIG_DIR;
    dir = mr_strdup(dir); /* dir may be config_dir() itself */
    mr_free(config_directory_path);
    mr_free(config_file_path);
    config_directory_path = (char *)dir;
    config_file_path = mr_format("%s/%s", dir, CONFIG_FILE);
    problem = str_new(100);
    if ((reader = lline_open(config_file_path, CONFIG_VALUE_MAX, problem)) == NULL) {
	mr_strlcpy(err, str_data(problem), sizeof(err));
	*error_r = err;
	str_free(&problem);
	return -1;
    }
    str_free(&problem);
    ret = config_parse(reader, error_r);
    lline_close(&reader);
    config_store("config_directory", dir, 0);
    for (size_t i = 0; i < config_count; i++) /* now, before any chroot */
	if (config_entries[i].def->def_fn)
	    (void)config_default(config_entries[i].def);
    return ret;
}

void config_reset(void)
{
    config_init();
    for (size_t i = 0; i < config_count; i++) {
	mr_free(config_entries[i].value);
	config_entries[i].value = NULL;
	config_entries[i].line = 0;
    }
    for (size_t i = 0; i < config_unknown_count; i++)
	mr_free(config_unknowns[i].name);
    mr_free(config_unknowns);
    config_unknowns = NULL;
    config_unknown_count = 0;
    config_flush_cache();
}

int config_line(const char *name)
{
    config_entry_t *e = config_entry(name);

    return e && e->line > 0 ? e->line : 0;
}

const char *config_file(void)
{
    return config_file_path ? config_file_path : DEF_CONFIG_DIR "/" CONFIG_FILE;
}

const char *config_dir(void)
{
    return config_directory_path ? config_directory_path : DEF_CONFIG_DIR;
}

/* config_raw - the unexpanded value in force for an entry */
static const char *config_raw(config_entry_t *e)
{
    return e->value ? e->value : config_default(e->def);
}

const char *config_default(const param_def_t *d)
{
    config_entry_t *e;

    if (d->compat_level > 0 && d->old_def && config_compat_level() < d->compat_level)
	return d->old_def;
    if (d->def_fn == NULL || (e = config_entry(d->name)) == NULL)
	return d->def;
    if (e->computed_def == NULL) /* once: the answer must not change */
	e->computed_def = mr_strdup(d->def_fn(d->def));
    return e->computed_def;
}

const char *config_raw_value(const char *name)
{
    config_entry_t *e = config_entry(name);

    if (e == NULL)
	msg_panic("config_raw_value: unknown parameter %s", name);
    return config_raw(e);
}

/* config_unique_words - drop repeated words (case-insensitive) of a list */
static void config_unique_words(char **value)
{
    str_t *out = str_new(strlen(*value) + 1);
    char *copy = mr_strdup(*value), *cp = copy, *word;

    while ((word = next_token(&cp, ", \t\n")) != NULL) {
	int seen = 0;
	char *prev = str_data(out), *pcp, *pword;

	prev = mr_strdup(prev);
	for (pcp = prev; !seen && (pword = next_token(&pcp, ", ")) != NULL;)
	    seen = strcasecmp(pword, word) == 0;
	mr_free(prev);
	if (!seen)
	    str_appendf(out, "%s%s", str_len(out) ? ", " : "", word);
    }
    mr_free(copy);
    mr_free(*value);
    *value = str_steal(&out);
}

/* config_ref - parse "$name" or "${name}" at cp; name length, 0 if none */
static size_t config_ref(const char *cp, char *name, size_t size, const char **last_r)
{
    const char *start = cp + 1 + (cp[1] == '{');
    size_t len = strspn(start, "abcdefghijklmnopqrstuvwxyz0123456789_");

    if (len == 0 || len >= size)
	return 0;
    memcpy(name, start, len);
    name[len] = 0;
    *last_r = start + len - 1;
    if (start[-1] == '{' && start[len] == '}')
	(*last_r)++;
    return len;
}

static int config_expand_entry(config_entry_t *e, const char **error_r);

/* config_expand - append raw to out with $name and ${name} expanded */
static int config_expand(str_t *out, const char *raw, const char **error_r)
{
    static char err[300];

    for (const char *cp = raw; *cp; cp++) {
	char name[128];
	config_entry_t *e;

	if (*cp != '$' || config_ref(cp, name, sizeof(name), &cp) == 0) {
	    str_appendc(out, *cp);
	    continue;
	}
	if ((e = config_entry(name)) == NULL) {
	    msg_warn("unknown parameter $%s in a value", name);
	    continue;
	}
	if (config_expand_entry(e, error_r) < 0)
	    return -1;
	str_appends(out, e->expanded);
	if (str_len(out) > CONFIG_VALUE_MAX) {
	    snprintf(err, sizeof(err), "expanding $%s makes the value longer than %d bytes", name,
		     CONFIG_VALUE_MAX);
	    *error_r = err;
	    return -1;
	}
    }
    return 0;
}

/* config_expand_entry - expand an entry's value once into e->expanded */
static int config_expand_entry(config_entry_t *e, const char **error_r)
{
    static char err[300];
    str_t *out;
    int ret;

    if (e->expanded)
	return 0;
    if (e->expanding) {
	snprintf(err, sizeof(err), "parameter expansion loop through $%s", e->def->name);
	*error_r = err;
	return -1;
    }
    e->expanding = 1;
    out = str_new(64);
    ret = config_expand(out, config_raw(e), error_r);
    e->expanding = 0;
    if (ret == 0) {
	e->expanded = str_steal(&out);
	if (e->def->unique_words)
	    config_unique_words(&e->expanded);
    } else {
	str_free(&out);
    }
    return ret;
}

/* config_bad - "where: name = value: problem" for an entry */
static const char *config_bad(config_entry_t *e, const char *value, const char *problem)
{
    static char msg[1000];
    const char *name = e->def->name;

    if (e->line > 0)
	snprintf(msg, sizeof(msg), "%s:%d: %s = %.100s: %s", config_file(), e->line, name, value,
		 problem);
    else if (e->line == CONFIG_LINE_OVERRIDE)
	snprintf(msg, sizeof(msg), "-o %s=%.100s: %s", name, value, problem);
    else
	snprintf(msg, sizeof(msg), "%s: %s = %.100s (default): %s", config_file(), name, value,
		 problem);
    return msg;
}

/* config_checked - the expanded value of e, checked against def (which
 * may differ from e->def in type and limits); -1 with a message */
static int config_checked(config_entry_t *e, const param_def_t *def, const char **value_r,
			  long long *num_r, const char **error_r)
{
    const char *problem;

    *value_r = config_raw(e);
    if (config_expand_entry(e, &problem) < 0) {
	*error_r = config_bad(e, *value_r, problem);
	return -1;
    }
    *value_r = e->expanded;
    if (config_value_check(def, e->expanded, num_r, &problem) < 0) {
	*error_r = config_bad(e, e->expanded, problem);
	return -1;
    }
    return 0;
}

/* config_known - the entry of a declared name; panic otherwise */
static config_entry_t *config_known(const char *name)
{
    config_entry_t *e = config_entry(name);

    if (e == NULL)
	msg_panic("undeclared parameter \"%s\"", name);
    return e;
}

const char *config_str(const char *name)
{
    config_entry_t *e = config_known(name);
    const char *error;

    if (config_expand_entry(e, &error) < 0)
	msg_fatal("%s", config_bad(e, config_raw(e), error));
    return e->expanded;
}

int config_compat_level(void)
{
    config_entry_t *e = config_entry("compatibility_level");

    return e && e->value ? atoi(e->value) : 0;
}

/* config_number - the value of name as a type, in [min, max] (0, 0:
 * the declared limits when the declared type is the same); else fatal */
static long long config_number(const char *name, param_type_t type, long long min, long long max)
{
    config_entry_t *e = config_known(name);
    param_def_t def = *e->def;
    const char *value, *error;
    long long num;

    if (def.type != type || min != 0 || max != 0) {
	def.type = type;
	def.min = min;
	def.max = max;
    }
    if (config_checked(e, &def, &value, &num, &error) < 0)
	msg_fatal("%s", error);
    return num;
}

long config_int(const char *name, long min, long max)
{
    return (long)config_number(name, PARAM_T_INT, min, max);
}

long config_time(const char *name)
{
    return (long)config_number(name, PARAM_T_TIME, 0, 0);
}

long long config_size(const char *name)
{
    return config_number(name, PARAM_T_SIZE, 0, 0);
}

int config_bool(const char *name)
{
    return (int)config_number(name, PARAM_T_BOOL, 0, 0);
}

int config_list_has(const char *name, const char *word)
{
    char *copy = mr_strdup(config_str(name)), *cp = copy, *tok;
    int found = 0;

    while (!found && (tok = next_token(&cp, ", \t")) != NULL)
	found = mr_strcaseeq(tok, word);
    mr_free(copy);
    return found;
}

/* config_fill_one - set one declaration's variable; -1 if invalid */
static int config_fill_one(config_entry_t *e, const char **error_r)
{
    const param_def_t *d = e->def;
    const char *value;
    long long num;

    if (config_checked(e, d, &value, &num, error_r) < 0)
	return -1;
    if (d->int_var)
	*d->int_var = (int)num;
    if (d->size_var)
	*d->size_var = num;
    if (d->str_var) {
	mr_free(e->var_copy);
	e->var_copy = mr_strdup(value);
	*d->str_var = e->var_copy;
    }
    return 0;
}

int config_fill(const char **error_r)
{
    static char first[1000];
    const char *error;
    int ret = 0;

    config_init();
    for (size_t i = 0; i < config_count; i++) {
	config_entry_t *e = &config_entries[i];

	if (!e->def->int_var && !e->def->size_var && !e->def->str_var)
	    continue;
	if (config_fill_one(e, &error) < 0 && ret == 0) {
	    mr_strlcpy(first, error, sizeof(first));
	    *error_r = first;
	    ret = -1;
	}
    }
    return ret;
}

int config_validate(str_t *out)
{
    const char *value, *error;
    long long num;
    int n = 0;

    config_init();
    for (size_t i = 0; i < config_count; i++) {
	config_entry_t *e = &config_entries[i];

	if (config_checked(e, e->def, &value, &num, &error) < 0) {
	    str_appendf(out, "%s\n", error);
	    n++;
	}
    }
    return n;
}

void config_walk(config_walk_fn fn, void *context)
{
    config_init();
    for (size_t i = 0; i < config_count; i++) {
	config_entry_t *e = &config_entries[i];
	int is_default = e->value == NULL || strcmp(e->def->name, "config_directory") == 0;

	fn(e->def, config_str(e->def->name), is_default, context);
    }
}

int config_problems(str_t *out, str_t *compat_notes)
{
    int level = config_compat_level();

    for (size_t i = 0; i < config_unknown_count; i++)
	str_appendf(out, "%s:%d: unknown parameter \"%s\"\n", config_file_path,
		    config_unknowns[i].line, config_unknowns[i].name);
    for (size_t i = 0; compat_notes && i < config_count; i++) {
	config_entry_t *e = &config_entries[i];

	if (e->value == NULL && e->def->compat_level > level && e->def->old_def)
	    str_appendf(compat_notes,
			"%s: using backwards-compatible default "
			"\"%s\"; at compatibility_level %d or higher it becomes \"%s\" "
			"(set it explicitly to keep the current behaviour)\n",
			e->def->name, e->def->old_def, e->def->compat_level, e->def->def);
    }
    return (int)config_unknown_count;
}
