/*
 * config.h - mailroom.conf: typed parameters with built-in defaults.
 *
 * Syntax: "name = value" lines; '#' starts a comment line; a line that
 * starts with white space continues the previous one; "$name" and
 * "${name}" in a value expand another parameter when the value is used.
 *
 * Every parameter is declared once, in a table (params_*.c): its name,
 * type, default, limits and, optionally, the variable that the server
 * skeleton fills before the service starts (config_fill). The same
 * declaration drives "mailroom check" (config_validate: every value,
 * with file:line), "mailroom config -d" (config_default) and the typed
 * accessors, so a value that check accepts is a value the daemons accept.
 *
 * Types and their syntax (docs/configuration.md):
 *   string   any text
 *   bool     yes/no/true/false/1/0
 *   int      a decimal number in [min, max]
 *   time     a number with an optional unit s/m/h/d/w, in seconds
 *   size     a number with an optional k/m/g (kb, mb, gb) suffix, in bytes
 *   list     words separated by commas and/or white space
 *   table    a list of type:name lookup tables (check opens each one)
 *
 * compatibility_level: when a release changes a default, the table keeps
 * the old default and the level at which the new one applies; the old
 * one stays in force until the administrator raises compatibility_level.
 */
#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#include <stddef.h>

#define CONFIG_FILE "mailroom.conf"
#define CONFIG_COMPAT_CURRENT 2    /* this release's compatibility level */
#define CONFIG_VALUE_MAX (1 << 20) /* longest value, expanded or not */

#ifndef DEF_CONFIG_DIR
#define DEF_CONFIG_DIR "/etc/mailroom"
#endif

typedef enum param_type {
    PARAM_T_STR = 0, /* also: an entry in the untyped form */
    PARAM_T_BOOL,
    PARAM_T_INT,
    PARAM_T_TIME,
    PARAM_T_SIZE,
    PARAM_T_LIST,
    PARAM_T_TABLE,
} param_type_t;

/*
 * One declaration. The first four members keep their order so that an
 * entry written in the untyped form {"name", "default", 0, 0} still
 * compiles (as a string); new entries use the PARAM_* macros below.
 */
typedef struct param_def {
    const char *name;
    const char *def;     /* default at the current level */
    int compat_level;    /* level that introduced def (0: always) */
    const char *old_def; /* default below that level */
    param_type_t type;
    long long min, max;   /* int, time, size (both 0: no limit) */
    int *int_var;         /* bool, int, time: filled by config_fill */
    long long *size_var;  /* size */
    const char **str_var; /* string, list, table */
    /* def_fn - a default computed from the machine (myhostname), asked
     * once per process, at config_load, before any chroot; gets def */
    const char *(*def_fn)(const char *def);
    int unique_words; /* list: a repeated word counts once */
} param_def_t;

/*
 * Declaration macros. Trailing arguments are extra designated
 * initializers, e.g. ".compat_level = 1, .old_def = \"yes\"". A variable
 * argument may be NULL when code reads the value with config_*().
 */
#define PARAM_STR(n, d, var, ...)                                                                  \
    {                                                                                              \
	.name = (n), .def = (d), .type = PARAM_T_STR, .str_var = (var), ##__VA_ARGS__              \
    }
#define PARAM_LIST(n, d, var, ...)                                                                 \
    {                                                                                              \
	.name = (n), .def = (d), .type = PARAM_T_LIST, .str_var = (var), ##__VA_ARGS__             \
    }
#define PARAM_TABLE(n, d, var, ...)                                                                \
    {                                                                                              \
	.name = (n), .def = (d), .type = PARAM_T_TABLE, .str_var = (var), ##__VA_ARGS__            \
    }
#define PARAM_BOOL(n, d, var, ...)                                                                 \
    {                                                                                              \
	.name = (n), .def = (d), .type = PARAM_T_BOOL, .int_var = (var), ##__VA_ARGS__             \
    }
#define PARAM_INT(n, d, lo, hi, var, ...)                                                          \
    {                                                                                              \
	.name = (n), .def = (d), .type = PARAM_T_INT, .min = (lo), .max = (hi), .int_var = (var),  \
	##__VA_ARGS__                                                                              \
    }
#define PARAM_TIME(n, d, lo, hi, var, ...)                                                         \
    {                                                                                              \
	.name = (n), .def = (d), .type = PARAM_T_TIME, .min = (lo), .max = (hi), .int_var = (var), \
	##__VA_ARGS__                                                                              \
    }
#define PARAM_SIZE(n, d, lo, hi, var, ...)                                                         \
    {                                                                                              \
	.name = (n), .def = (d), .type = PARAM_T_SIZE, .min = (lo), .max = (hi),                   \
	.size_var = (var), ##__VA_ARGS__                                                           \
    }
#define PARAM_END                                                                                  \
    {                                                                                              \
	0                                                                                          \
    }

/* config_load - read config_dir/mailroom.conf (config_dir NULL: from
 * $MAILROOM_CONFIG_DIR or DEF_CONFIG_DIR). Returns 0, or -1 with a
 * "file:line: problem" text in *error_r. A missing file is an error. */
int config_load(const char *config_dir, const char **error_r);
/* config_override - set a value from the command line (-o name=value) */
void config_override(const char *name, const char *value);
/* config_parse_override - "name=value" form; -1 if malformed */
int config_parse_override(const char *assignment);
/* config_restore - undo overrides of name: back to the value mailroom.conf
 * set at line, or to the default when value is NULL (what config_line
 * and config_raw_value said before the override) */
void config_restore(const char *name, const char *value, int line);

/* config_str - the expanded value (never NULL); unknown name: panic;
 * an expansion that loops or grows past CONFIG_VALUE_MAX: fatal */
const char *config_str(const char *name);
/* config_int - integer value in [min, max], else fatal */
long config_int(const char *name, long min, long max);
/* config_time - a time with optional unit s/m/h/d/w, in seconds */
long config_time(const char *name);
/* config_size - a byte count with optional k/m/g suffix */
long long config_size(const char *name);
/* config_bool - yes/no/true/false/1/0, else fatal */
int config_bool(const char *name);
/* config_list_has - is word (case-insensitive) in the comma/space list? */
int config_list_has(const char *name, const char *word);

/* config_fill - set the variable of every declaration that has one.
 * Returns 0, or -1 with the first invalid value described in *error_r
 * ("file:line: name = value: problem"); variables of valid values are
 * set either way. */
int config_fill(const char **error_r);
/* config_validate - append one "file:line: name = value: problem" line
 * per parameter whose value does not fit its declaration (type, limits,
 * expansion); returns their number */
struct str;
int config_validate(struct str *out);
/* config_value_check - does value fit def? Returns 0 with the number
 * (bool 0/1, int, seconds, bytes; 0 for text types) in *num_r, or -1
 * with a problem text in *problem_r */
int config_value_check(const param_def_t *def, const char *value, long long *num_r,
		       const char **problem_r);
/* config_type_name - "string", "bool", ... */
const char *config_type_name(param_type_t type);

/* config_reset - forget every value read or overridden so far, and the
 * unknown names (before a reload: a line removed from the file must fall
 * back to its default) */
void config_reset(void);
/* config_line - the line of mailroom.conf that set name, 0 if none */
int config_line(const char *name);
/* config_file - the path of mailroom.conf as loaded */
const char *config_file(void);

/* config_dir - the directory the file was read from */
const char *config_dir(void);
/* config_compat_level - the effective compatibility_level */
int config_compat_level(void);
/* config_raw_value - the value in force for name as written (its $name
 * references not expanded); unknown name: panic */
const char *config_raw_value(const char *name);
/* config_default - the unexpanded default in force for def at the
 * effective compatibility_level */
const char *config_default(const param_def_t *def);

/* Walking the table (mailroom config / check) */
typedef void (*config_walk_fn)(const param_def_t *def, const char *value, int is_default,
			       void *context);
/* config_walk - call fn for every known parameter, sorted by name */
void config_walk(config_walk_fn fn, void *context);
/* config_find - the definition of name, or NULL */
const param_def_t *config_find(const char *name);
/* config_problems - append "file:line: ..." lines for unknown names and
 * for defaults that a higher compatibility_level would change; returns
 * the number of unknown-parameter problems */
int config_problems(struct str *out, struct str *compat_notes);

/* The parameter tables, one per area (params.c collects them). */
extern const param_def_t params_core[];
extern const param_def_t params_master[];
extern const param_def_t params_table[];
extern const param_def_t params_smtpd[];
extern const param_def_t params_cleanup[];
extern const param_def_t params_qmgr[];
extern const param_def_t params_tools[];
extern const param_def_t params_tls[];
extern const param_def_t params_local[];
extern const param_def_t params_smtp[];
extern const param_def_t params_anvil[];
extern const param_def_t params_filter[];
extern const param_def_t params_pop3d[];
extern const param_def_t params_store[];

#endif
