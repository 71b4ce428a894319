/*
 * mailroom_check.c - "mailroom check": say exactly what is wrong.
 *
 * Checks, each problem one line:
 *   mailroom.conf   unknown parameters, and every value against its
 *                   declaration: type, limits, expansion (file:line)
 *   master.conf     syntax and values (file:line), -o values against their
 *                   declarations; that each command is an executable file
 *                   in daemon_directory
 *   directories     (as root) owner and mode of existing queue
 *                   directories (master creates missing ones)
 *   tables          every table named in a *_maps parameter opens
 *   TLS             certificate and key can be read, load and match;
 *                   expiry; as mailroom.conf sets them and as each
 *                   master.conf service overrides them with -o
 *                   (mailroom_tls.c)
 * Compatibility notes (defaults a higher compatibility_level would
 * change) are not problems; they are returned separately.
 */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "mailroom.h"
#include "master_conf.h"
#include "master_dirtab.h"
#include "table/table.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"

/* check_programs - each command must be an executable file */
static int check_programs(const master_conf_t *conf, str_t *problems)
{
    int n = 0;

    for (int i = 0; i < conf->count; i++) {
	const master_ent_t *e = &conf->ents[i];
	char *path = mr_format("%s/%s", config_str("daemon_directory"), e->argv[0]);
	struct stat st;

	if (stat(path, &st) < 0) {
	    str_appendf(problems, "%s:%d: %s: %s\n", conf->path, e->line, path, strerror(errno));
	    n++;
	} else if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0) {
	    str_appendf(problems, "%s:%d: %s: not an executable file\n", conf->path, e->line, path);
	    n++;
	}
	mr_free(path);
    }
    return n;
}

/* check_overrides - the value of each -o name=value against its
 * declaration (a value with $name is left to the daemon: it expands it
 * in its own context) */
static int check_overrides(const master_conf_t *conf, str_t *problems)
{
    int n = 0;

    for (int i = 0; i < conf->count; i++) {
	const master_ent_t *e = &conf->ents[i];

	for (int a = 1; a + 1 < e->argc; a++) {
	    const char *arg = e->argv[a + 1], *eq = strchr(arg, '='), *problem;
	    const param_def_t *def;
	    char *name;
	    long long num;

	    if (strcmp(e->argv[a], "-o") != 0 || eq == NULL || strchr(eq, '$'))
		continue;
	    name = mr_strndup(arg, (size_t)(eq - arg));
	    if ((def = config_find(name)) != NULL &&
		config_value_check(def, eq + 1, &num, &problem) < 0) {
		str_appendf(problems, "%s:%d: -o %s: %s\n", conf->path, e->line, arg, problem);
		n++;
	    }
	    mr_free(name);
	}
    }
    return n;
}

/* check_master_conf - syntax, then the programs, values and TLS files */
static int check_master_conf(str_t *problems, str_t *notes)
{
    char *path = mr_format("%s/master.conf", config_dir());
    master_conf_t *conf = NULL;
    int n = master_conf_read(path, &conf, problems);

    if (n < 0) {
	n = 1;
    } else {
	n += check_programs(conf, problems);
	n += check_overrides(conf, problems);
	n += mailroom_check_tls_services(conf, problems, notes);
	master_conf_free(&conf);
    }
    mr_free(path);
    return n;
}

/* check_one_dir - owner and mode of one existing directory */
static int check_one_dir(const char *path, int mode, uid_t uid, gid_t gid, str_t *problems)
{
    struct stat st;

    if (lstat(path, &st) < 0)
	return 0; /* master creates it */
    if (!S_ISDIR(st.st_mode)) {
	str_appendf(problems, "%s: not a directory\n", path);
	return 1;
    }
    if (st.st_uid != uid || st.st_gid != gid || (int)(st.st_mode & 07777) != mode) {
	str_appendf(problems, "%s: owner %ld:%ld mode %04o, expected %ld:%ld mode %04o\n", path,
		    (long)st.st_uid, (long)st.st_gid, (unsigned)(st.st_mode & 07777), (long)uid,
		    (long)gid, (unsigned)mode);
	return 1;
    }
    return 0;
}

/* check_dirs - queue directories (root only: only then do owners matter) */
static int check_dirs(str_t *problems, str_t *notes)
{
    uid_t uid;
    gid_t gid;
    struct group *gr;
    int n = 0;

    if (!privs_running_as_root())
	return 0;
    if (privs_lookup(config_str("mail_owner"), &uid, &gid) < 0 ||
	(gr = getgrnam(config_str("setgid_group"))) == NULL) {
	str_appendf(notes,
		    "mail_owner \"%s\" or setgid_group \"%s\" does not exist yet; "
		    "master creates them at start\n",
		    config_str("mail_owner"), config_str("setgid_group"));
	return 0;
    }
    for (const master_dir_t *d = master_queue_dirs; d->name; d++) {
	char *path = mr_format("%s/%s", config_str("queue_directory"), d->name);

	if (d->root_owned) /* master fixes it (through a descriptor) */
	    check_one_dir(path, d->mode, 0, 0, notes);
	else
	    n += check_one_dir(path, d->mode, uid, d->drop_group ? gr->gr_gid : gid, problems);
	mr_free(path);
    }
    return n;
}

typedef struct {
    str_t *problems;
    int count;
} check_tables_t;

/* check_is_table - a table-typed parameter, or an untyped *_maps one */
static int check_is_table(const param_def_t *def)
{
    size_t len = strlen(def->name);

    if (def->type == PARAM_T_TABLE)
	return 1;
    return def->type == PARAM_T_STR && len > 5 && strcmp(def->name + len - 5, "_maps") == 0;
}

/* check_table_param - for config_walk: open a table parameter's tables */
static void check_table_param(const param_def_t *def, const char *value, int is_default,
			      void *context)
{
    check_tables_t *ctx = context;
    const char *error;
    table_list_t *list;

    if (!check_is_table(def) || *value == 0)
	return;
    if ((list = table_list_open(value, &error)) != NULL) {
	table_list_close(&list);
	return;
    }
    if (strcmp(def->name, "alias_maps") == 0)
	error = mr_format("%s (newaliases builds alias tables from their source files)", error);
    if (config_line(def->name) > 0)
	str_appendf(ctx->problems, "%s:%d: %s: %s\n", config_file(), config_line(def->name),
		    def->name, error);
    else
	str_appendf(ctx->problems, "%s: %s (default): %s\n", config_file(), def->name, error);
    ctx->count++;
}

/* check_syslog - say where lines go when syslog is asked for but absent */
static void check_syslog(str_t *notes)
{
    if (config_list_has("maillog_file", "syslog") && !msg_syslog_available())
	str_appendf(notes,
		    "no syslog socket %s (no syslog daemon running?): "
		    "daemons log to %s instead\n",
		    MSG_SYSLOG_SOCKET, config_str("maillog_fallback_file"));
}

int mailroom_check(str_t *problems, str_t *notes)
{
    check_tables_t tables = {problems, 0};
    int n;

    n = config_problems(problems, notes);
    n += config_validate(problems);
    n += check_master_conf(problems, notes);
    n += check_dirs(problems, notes);
    config_walk(check_table_param, &tables);
    n += mailroom_check_tls(problems, notes);
    check_syslog(notes);
    return n + tables.count;
}
