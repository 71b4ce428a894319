/*
 * map.c - mailroom-map: build and query lookup tables.
 *
 *   mailroom-map [-aNv] [-c config_dir] TYPE:PATH          build
 *   mailroom-map [-c config_dir] -q KEY TYPE:PATH          query
 *   mailroom-map [-c config_dir] -q - TYPE:PATH            keys on stdin
 *
 * Building (cdb:, hash:, btree:) reads the text file PATH ("key value"
 * lines, or "name: value" with -a or when run as mailroom-alias) and
 * writes PATH.cdb or PATH.db atomically: a temporary file beside it is
 * written, fsync'd and renamed over the old table, so a failure leaves
 * the old table intact. -N stores keys and values with a trailing NUL.
 * A TYPE:PATH without a type means cdb:PATH.
 *
 * Querying works for every table type (including proxy: through
 * tabled) and prints the value. Exit status: 0 built / found, 1 not
 * found, 2 error (a message on stderr names the file and line).
 *
 * Runs as the invoking user; trusts its command line and the files it is
 * pointed at. Reads mailroom.conf (-c, $MAILROOM_CONFIG_DIR or the
 * default folder) when there is one, for queue_directory (proxy:) and the
 * berkeley_db_* and table_ipc_timeout parameters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/config.h"
#include "table/table.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define MAP_EXIT_FOUND 0
#define MAP_EXIT_NOTFOUND 1
#define MAP_EXIT_ERROR 2

/* map_usage - explain the command line and fail */
static void map_usage(const char *prog)
{
    fprintf(stderr,
	    "usage: %s [-aNv] [-c config_dir] [type:]path\n"
	    "       %s [-c config_dir] -q key|- type:name\n",
	    prog, prog);
    exit(MAP_EXIT_ERROR);
}

/* map_spec - "cdb:" is the default type */
static char *map_spec(const char *arg)
{
    if (strchr(arg, ':') == NULL)
	return mr_format("cdb:%s", arg);
    return mr_strdup(arg);
}

/* map_query_one - look up one key; prints the value */
static int map_query_one(table_t *t, const char *key, int show_key, str_t *value)
{
    const char *error;
    int r = table_lookup(t, key, value, &error);

    if (r < 0) {
	msg_error("%s", error);
	return MAP_EXIT_ERROR;
    }
    if (r == 0)
	return MAP_EXIT_NOTFOUND;
    if (show_key)
	printf("%s\t%s\n", key, str_data(value));
    else
	printf("%s\n", str_data(value));
    return MAP_EXIT_FOUND;
}

/* map_query_stdin - "-q -": one key per line; 0 if any found */
static int map_query_stdin(table_t *t, str_t *value)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int ret = MAP_EXIT_NOTFOUND, r;

    while ((n = getline(&line, &cap, stdin)) >= 0) {
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
	    line[--n] = 0;
	if (n == 0)
	    continue;
	if ((r = map_query_one(t, line, 1, value)) == MAP_EXIT_ERROR) {
	    ret = r;
	    break;
	}
	if (r == MAP_EXIT_FOUND)
	    ret = r;
    }
    free(line);
    return ret;
}

/* map_query - -q mode */
static int map_query(const char *spec, const char *key)
{
    const char *error;
    table_t *t;
    str_t *value = str_new(100);
    int ret;

    if ((t = table_open(spec, &error)) == NULL) {
	msg_error("%s", error);
	ret = MAP_EXIT_ERROR;
    } else {
	ret = strcmp(key, "-") == 0 ? map_query_stdin(t, value) : map_query_one(t, key, 0, value);
	table_close(&t);
    }
    str_free(&value);
    fflush(stdout);
    return ret;
}

/* map_build - build mode */
static int map_build(const char *spec, int flags)
{
    const char *error;
    long n;

    if ((n = table_build(spec, flags, &error)) < 0) {
	msg_error("%s", error);
	return MAP_EXIT_ERROR;
    }
    if (msg_verbose)
	msg_info("%s: %ld entries", spec, n);
    return 0;
}

/* map_config - read mailroom.conf if there is one */
static void map_config(const char *dir)
{
    const char *error;

    if (config_load(dir, &error) < 0 && dir != NULL) {
	msg_error("%s", error);
	exit(MAP_EXIT_ERROR);
    }
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    const char *query = NULL, *config = NULL;
    int flags = 0, ch, ret;
    char *spec;

    msg_init(strcmp(prog, "mailroom-alias") == 0 ? "mailroom-alias" : "mailroom-map");
    if (strcmp(prog, "mailroom-alias") == 0)
	flags |= TABLE_BUILD_ALIAS;
    while ((ch = getopt(argc, argv, "ac:Nq:v")) != -1) {
	switch (ch) {
	case 'a':
	    flags |= TABLE_BUILD_ALIAS;
	    break;
	case 'c':
	    config = optarg;
	    break;
	case 'N':
	    flags |= TABLE_BUILD_NUL;
	    break;
	case 'q':
	    query = optarg;
	    break;
	case 'v':
	    msg_verbose++;
	    break;
	default:
	    map_usage(prog);
	}
    }
    if (optind != argc - 1)
	map_usage(prog);
    map_config(config);
    spec = map_spec(argv[optind]);
    ret = query ? map_query(spec, query) : map_build(spec, flags);
    mr_free(spec);
    return ret;
}
