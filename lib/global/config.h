/*
 * config.h - mailroom.conf: parameters with built-in defaults.
 *
 * Syntax: "name = value" lines; '#' starts a comment line; a line that
 * starts with white space continues the previous one; "$name" and
 * "${name}" in a value expand another parameter when the value is used.
 * Every parameter is declared in a table (params_*.c) with its default,
 * so a typo in mailroom.conf is reported as an unknown parameter.
 *
 * compatibility_level: when a release changes a default, the table keeps
 * the old default and the level at which the new one applies; the old
 * one stays in force until the administrator raises compatibility_level.
 */
#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#define CONFIG_FILE		"mailroom.conf"
#define CONFIG_COMPAT_CURRENT	2	/* this release's compatibility level */

#ifndef DEF_CONFIG_DIR
#define DEF_CONFIG_DIR		"/etc/mailroom"
#endif

typedef struct param_def {
    const char *name;
    const char *def;			/* default at the current level */
    int     compat_level;		/* level that introduced def (0: always) */
    const char *old_def;		/* default below that level */
} param_def_t;

/* config_load - read config_dir/mailroom.conf (config_dir NULL: from
 * $MAILROOM_CONFIG_DIR or DEF_CONFIG_DIR). Returns 0, or -1 with a
 * "file:line: problem" text in *error_r. A missing file is an error. */
int     config_load(const char *config_dir, const char **error_r);
/* config_override - set a value from the command line (-o name=value) */
void    config_override(const char *name, const char *value);
/* config_parse_override - "name=value" form; -1 if malformed */
int     config_parse_override(const char *assignment);

/* config_str - the expanded value (never NULL); unknown name: panic */
const char *config_str(const char *name);
/* config_int - integer value in [min, max], else fatal */
long    config_int(const char *name, long min, long max);
/* config_time - a time with optional unit s/m/h/d/w, in seconds */
long    config_time(const char *name);
/* config_size - a byte count with optional k/m/g suffix */
long long config_size(const char *name);
/* config_bool - yes/no/true/false/1/0, else fatal */
int     config_bool(const char *name);
/* config_list_has - is word (case-insensitive) in the comma/space list? */
int     config_list_has(const char *name, const char *word);

/* config_reset - forget every value read or overridden so far, and the
 * unknown names (before a reload: a line removed from the file must fall
 * back to its default) */
void    config_reset(void);
/* config_line - the line of mailroom.conf that set name, 0 if none */
int     config_line(const char *name);
/* config_file - the path of mailroom.conf as loaded */
const char *config_file(void);

/* config_dir - the directory the file was read from */
const char *config_dir(void);
/* config_compat_level - the effective compatibility_level */
int     config_compat_level(void);

/* Walking the table (mailroom config / check) */
typedef void (*config_walk_fn)(const param_def_t *def, const char *value,
			       int is_default, void *context);
/* config_walk - call fn for every known parameter, sorted by name */
void    config_walk(config_walk_fn fn, void *context);
/* config_find - the definition of name, or NULL */
const param_def_t *config_find(const char *name);
/* config_problems - append "file:line: ..." lines for unknown names and
 * for defaults that a higher compatibility_level would change; returns
 * the number of unknown-parameter problems */
struct str;
int     config_problems(struct str *out, struct str *compat_notes);

/* The parameter tables, one per area (params.c collects them). */
extern const param_def_t params_core[];
extern const param_def_t params_master[];
extern const param_def_t params_table[];
extern const param_def_t params_smtpd[];
extern const param_def_t params_cleanup[];
extern const param_def_t params_qmgr[];
extern const param_def_t params_tools[];

#endif
