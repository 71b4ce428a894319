/*
 * master_conf.c - master.conf parser (format in master_conf.h).
 *
 * Used by master (to start services) and by "mailroom check" (to report
 * every mistake at once), so it never gives up at the first problem.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/config.h"
#include "master_conf.h"
#include "util/lline.h"
#include "util/mymalloc.h"
#include "util/sock.h"

#define MASTER_MIN_FIELDS 8
#define MASTER_CONF_MAX_LINE (64 * 1024) /* one service, continuations included */

typedef struct {
    const char *path;
    int line;
    str_t *errors;
    int problems;
} master_ctx_t;

/* master_problem - record one "path:line: problem" line */
static void __attribute__((format(printf, 2, 3)))
master_problem(master_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    str_appendf(ctx->errors, "%s:%d: ", ctx->path, ctx->line);
    va_start(ap, fmt);
    str_vappendf(ctx->errors, fmt, ap);
    va_end(ap);
    str_appendc(ctx->errors, '\n');
    ctx->problems++;
}

const char *master_type_name(int type)
{
    switch (type) {
    case MASTER_TYPE_INET:
	return "inet";
    case MASTER_TYPE_UNIX:
	return "unix";
    case MASTER_TYPE_FIFO:
	return "fifo";
    default:
	return "unknown";
    }
}

/* master_parse_type - type column */
static int master_parse_type(master_ctx_t *ctx, const char *word)
{
    if (strcmp(word, "inet") == 0)
	return MASTER_TYPE_INET;
    if (strcmp(word, "unix") == 0)
	return MASTER_TYPE_UNIX;
    if (strcmp(word, "fifo") == 0)
	return MASTER_TYPE_FIFO;
    master_problem(ctx, "unknown service type \"%.50s\" (expected inet, unix or fifo)", word);
    return 0;
}

/* master_parse_flag - a y/n/- column; -2 if bad */
static int master_parse_flag(master_ctx_t *ctx, const char *column, const char *word)
{
    if (strcmp(word, "y") == 0)
	return 1;
    if (strcmp(word, "n") == 0)
	return 0;
    if (strcmp(word, "-") == 0)
	return MASTER_FLAG_DEFAULT;
    master_problem(ctx, "%s column must be y, n or - (found \"%.50s\")", column, word);
    return -2;
}

/* master_parse_number - a number/- column; -2 if bad */
static int master_parse_number(master_ctx_t *ctx, const char *column, const char *word,
			       int allow_query)
{
    char *end;
    long n;

    if (strcmp(word, "-") == 0)
	return MASTER_FLAG_DEFAULT;
    errno = 0;
    n = strtol(word, &end, 10);
    if (allow_query && *end == '?' && end > word)
	end++;
    if (!isdigit((unsigned char)*word) || *end || errno || n > 1000000) {
	master_problem(ctx, "%s column must be a number or - (found \"%.50s\")", column, word);
	return -2;
    }
    return (int)n;
}

/* master_check_inet - "[host:]port" with a port number or service name */
static void master_check_inet(master_ctx_t *ctx, const char *service)
{
    char copy[300], *host, *port, *end;
    long n;

    if (mr_strlcpy(copy, service, sizeof(copy)) >= sizeof(copy) ||
	sock_split_hostport(copy, &host, &port) < 0 || *port == 0) {
	master_problem(ctx, "bad inet service \"%.100s\" (expected [host:]port)", service);
	return;
    }
    if (isdigit((unsigned char)*port)) {
	n = strtol(port, &end, 10);
	if (*end || n < 1 || n > 65535)
	    master_problem(ctx, "bad port \"%.50s\" in \"%.100s\"", port, service);
    } else if (getservbyname(port, "tcp") == NULL) {
	master_problem(ctx, "unknown service name \"%.50s\" in \"%.100s\" (not in /etc/services)",
		       port, service);
    }
}

/* master_check_name - unix/fifo socket name */
static void master_check_name(master_ctx_t *ctx, const char *service)
{
    if (strchr(service, '/') || strlen(service) > 64 || strcmp(service, ".") == 0 ||
	strcmp(service, "..") == 0)
	master_problem(ctx,
		       "bad socket name \"%.100s\" (a plain name of at most 64 "
		       "characters, without '/')",
		       service);
}

/* master_check_args - command name and its arguments */
static void master_check_args(master_ctx_t *ctx, char **argv, int argc)
{
    if (strchr(argv[0], '/'))
	master_problem(ctx,
		       "command \"%.100s\" must be a program name in daemon_directory, "
		       "not a path",
		       argv[0]);
    for (int i = 1; i < argc; i++) {
	const char *eq;

	if (strcmp(argv[i], "-v") == 0)
	    continue;
	if (strcmp(argv[i], "-o") != 0) {
	    master_problem(ctx,
			   "unexpected argument \"%.100s\" (only -o name=value and -v "
			   "are allowed)",
			   argv[i]);
	    continue;
	}
	if (++i >= argc || (eq = strchr(argv[i], '=')) == NULL || eq == argv[i]) {
	    master_problem(ctx, "-o needs a name=value argument");
	    continue;
	}
	char *name = mr_strndup(argv[i], (size_t)(eq - argv[i]));

	if (config_find(name) == NULL)
	    master_problem(ctx, "unknown parameter \"%.100s\" in -o %.200s", name, argv[i]);
	mr_free(name);
    }
}

/* master_ent_free_fields - release what one entry owns */
static void master_ent_free_fields(master_ent_t *ent)
{
    mr_free(ent->service);
    for (int i = 0; i < ent->argc; i++)
	mr_free(ent->argv[i]);
    mr_free(ent->argv);
}

/* master_find_dup - an earlier entry with the same type and name */
static const master_ent_t *master_find_dup(const master_conf_t *conf, const master_ent_t *ent)
{
    for (int i = 0; i < conf->count; i++)
	if (conf->ents[i].type == ent->type && strcmp(conf->ents[i].service, ent->service) == 0)
	    return &conf->ents[i];
    return NULL;
}

/* master_parse_columns - the seven fixed columns; 0 ok, -1 bad */
static int master_parse_columns(master_ctx_t *ctx, char **w, master_ent_t *ent)
{
    int before = ctx->problems;

    ent->type = master_parse_type(ctx, w[1]);
    if (ent->type == MASTER_TYPE_INET)
	master_check_inet(ctx, w[0]);
    else if (ent->type)
	master_check_name(ctx, w[0]);
    ent->private_flag = master_parse_flag(ctx, "private", w[2]);
    ent->unpriv_flag = master_parse_flag(ctx, "unpriv", w[3]);
    ent->chroot_flag = master_parse_flag(ctx, "chroot", w[4]);
    ent->wakeup = master_parse_number(ctx, "wakeup", w[5], 1);
    if (ent->wakeup == MASTER_FLAG_DEFAULT)
	ent->wakeup = 0;
    ent->maxproc = master_parse_number(ctx, "maxproc", w[6], 0);
    return ctx->problems == before ? 0 : -1;
}

/* master_parse_logical - one service line, split into words */
static void master_parse_logical(master_ctx_t *ctx, char *text, master_conf_t *conf)
{
    char *words[256], *cp = text, *tok;
    int n = 0;
    master_ent_t ent;
    const master_ent_t *dup;

    while ((tok = next_token(&cp, " \t")) != NULL) {
	if (n == 256) {
	    master_problem(ctx, "too many fields (at most 256)");
	    return;
	}
	words[n++] = tok;
    }
    if (n < MASTER_MIN_FIELDS) {
	master_problem(ctx,
		       "expected at least %d fields (service type private unpriv chroot "
		       "wakeup maxproc command), found %d",
		       MASTER_MIN_FIELDS, n);
	return;
    }
    memset(&ent, 0, sizeof(ent));
    ent.line = ctx->line;
    if (master_parse_columns(ctx, words, &ent) < 0)
	return;
    master_check_args(ctx, words + 7, n - 7);
    ent.service = mr_strdup(words[0]);
    ent.argc = n - 7;
    ent.argv = mr_calloc((size_t)ent.argc + 1, sizeof(char *));
    for (int i = 0; i < ent.argc; i++)
	ent.argv[i] = mr_strdup(words[7 + i]);
    if ((dup = master_find_dup(conf, &ent)) != NULL) {
	master_problem(ctx, "service \"%s\" (%s) is already defined at line %d", ent.service,
		       master_type_name(ent.type), dup->line);
	master_ent_free_fields(&ent);
	return;
    }
    conf->ents = mr_reallocarray(conf->ents, (size_t)conf->count + 1, sizeof(ent));
    conf->ents[conf->count++] = ent;
}

/* master_conf_parse - every logical line of a reader */
static int master_conf_parse(lline_t *reader, master_conf_t **conf_r, str_t *errors)
{
    master_ctx_t ctx = {lline_path(reader), 0, errors, 0};
    master_conf_t *conf = mr_calloc(1, sizeof(*conf));
    str_t *logical = str_new(256), *err = str_new(100);
    int r;

    conf->path = mr_strdup(lline_path(reader));
    while ((r = lline_next(reader, logical, &ctx.line, err)) > 0)
	master_parse_logical(&ctx, str_data(logical), conf);
    if (r < 0) {
	str_appendf(errors, "%s\n", str_data(err));
	ctx.problems++;
    }
    str_free(&logical);
    str_free(&err);
    *conf_r = conf;
    return ctx.problems;
}

int master_conf_parse_text(const char *path, const char *text, master_conf_t **conf_r,
			   str_t *errors)
{
    lline_t *reader = lline_text(text, path, MASTER_CONF_MAX_LINE);
    int ret = master_conf_parse(reader, conf_r, errors);

    lline_close(&reader);
    return ret;
}

int master_conf_read(const char *path, master_conf_t **conf_r, str_t *errors)
{
    str_t *err = str_new(100);
    lline_t *reader = lline_open(path, MASTER_CONF_MAX_LINE, err);
    int ret;

    if (reader == NULL) {
	str_appendf(errors, "%s\n", str_data(err));
	str_free(&err);
	return -1;
    }
    ret = master_conf_parse(reader, conf_r, errors);
    lline_close(&reader);
    str_free(&err);
    return ret;
}

void master_conf_free(master_conf_t **conf_r)
{
    master_conf_t *conf = *conf_r;

    if (conf == NULL)
	return;
    for (int i = 0; i < conf->count; i++)
	master_ent_free_fields(&conf->ents[i]);
    mr_free(conf->ents);
    mr_free(conf->path);
    mr_free(conf);
    *conf_r = NULL;
}

char *master_ent_address(const master_ent_t *ent, const char *queue_dir)
{
    if (ent->type == MASTER_TYPE_INET)
	return strchr(ent->service, ':') ? mr_strdup(ent->service) : mr_format(":%s", ent->service);
    return mr_format("%s/%s/%s", queue_dir, ent->private_flag == 0 ? "public" : "private",
		     ent->service);
}
