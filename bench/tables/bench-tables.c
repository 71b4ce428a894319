/*
 * bench-tables.c - build and lookup speed of cdb:, hash: and proxy:.
 *
 *   bench-tables [-n keys] [-l lookups] [-d dir] [-c config_dir] [-p]
 *                [-k] [-t cases]
 *
 * Writes a text source of N keys (default 1,000,000) into dir, builds
 * cdb:dir/keys and hash:dir/keys with table_build (timed), then does L
 * random lookups (default 1,000,000; 90% hits) against each in-process,
 * and with -p also through tabled as proxy:cdb:dir/keys and
 * proxy:hash:dir/keys (tabled must be reachable at
 * queue_directory/private/tabled and allow those tables; bench/tables.sh
 * arranges that). The lookup keys are generated before the clock starts,
 * so the loop times table_lookup() and nothing else.
 *
 * -k keeps the source and tables already in dir (no build: for
 * profiling one case again and again); -t picks the cases, a comma list
 * of cdb, hash, proxy:cdb, proxy:hash and cdb-bare (tinycdb's cdb_find
 * on the same file without our wrapper, the floor for cdb:).
 * Output, one line per case:
 *   cdb         build   1.234 s   1000000 lookups    3456789/s  hits 900123
 */
#include <cdb.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "global/config.h"
#include "table/table.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* bench_now - monotonic seconds */
static double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* bench_key - the key of entry i */
static void bench_key(char *buf, size_t len, unsigned i)
{
    snprintf(buf, len, "user%07u@d%u.example", i, i % 97);
}

/* bench_source - write the text source */
static void bench_source(const char *path, unsigned n)
{
    FILE *fp = fopen(path, "w");
    char key[64];

    if (fp == NULL)
	msg_fatal("create %s: %m", path);
    for (unsigned i = 0; i < n; i++) {
	bench_key(key, sizeof(key), i);
	fprintf(fp, "%s\tmaildir/%u/user%07u/\n", key, i % 97, i);
    }
    if (fclose(fp) != 0)
	msg_fatal("write %s: %m", path);
}

/* bench_keys - lookups keys: 90% present, 10% absent */
static char **bench_keys(unsigned n, unsigned lookups)
{
    char **keys = mr_calloc(lookups, sizeof(*keys));
    char key[64];

    srandom(4711);
    for (unsigned i = 0; i < lookups; i++) {
	unsigned k = (unsigned)random() % n;

	if (random() % 10 == 0)
	    snprintf(key, sizeof(key), "nobody%07u@d%u.example", k, k % 97);
	else
	    bench_key(key, sizeof(key), k);
	keys[i] = mr_strdup(key);
    }
    return keys;
}

/* bench_lookups - time the lookups against one table */
__attribute__((noinline)) static void bench_lookups(const char *spec, double build_s, char **keys,
						    unsigned lookups)
{
    const char *error;
    table_t *t = table_open(spec, &error);
    str_t *v = str_new(100);
    unsigned hits = 0;
    double start;

    if (t == NULL)
	msg_fatal("%s", error);
    start = bench_now();
    for (unsigned i = 0; i < lookups; i++) {
	int r = table_lookup(t, keys[i], v, &error);

	if (r < 0)
	    msg_fatal("%s", error);
	hits += r;
    }
    double secs = bench_now() - start;

    printf("%-11.*s build %7.3f s  %8u lookups  %9.0f/s  hits %u\n",
	   (int)(strrchr(spec, ':') - spec), spec, build_s, lookups, lookups / secs, hits);
    fflush(stdout);
    table_close(&t);
    str_free(&v);
}

/* bench_bare - time tinycdb's own lookups on the cdb file (no wrapper) */
__attribute__((noinline)) static void bench_bare(const char *path, char **keys, unsigned lookups)
{
    char *file = mr_format("%s.cdb", path);
    int fd = open(file, O_RDONLY);
    struct cdb cdb;
    unsigned hits = 0;
    double start;

    if (fd < 0 || cdb_init(&cdb, fd) < 0)
	msg_fatal("open %s: %m", file);
    start = bench_now();
    for (unsigned i = 0; i < lookups; i++) {
	int r = cdb_find(&cdb, keys[i], (unsigned)strlen(keys[i]));

	if (r < 0)
	    msg_fatal("%s: corrupt", file);
	hits += r;
    }
    double secs = bench_now() - start;

    printf("%-11s build %7.3f s  %8u lookups  %9.0f/s  hits %u\n", "cdb-bare", 0.0, lookups,
	   lookups / secs, hits);
    fflush(stdout);
    cdb_free(&cdb);
    close(fd);
    mr_free(file);
}

/* bench_want - is case name in the comma list? */
static int bench_want(const char *list, const char *name)
{
    size_t len = strlen(name);

    for (const char *cp = list; *cp; cp += strcspn(cp, ",")) {
	cp += strspn(cp, ",");
	if (strncmp(cp, name, len) == 0 && (cp[len] == 0 || cp[len] == ','))
	    return 1;
    }
    return 0;
}

/* bench_build - build one table, return the seconds it took */
static double bench_build(const char *spec)
{
    const char *error;
    double start = bench_now();

    if (table_build(spec, 0, &error) < 0)
	msg_fatal("%s", error);
    return bench_now() - start;
}

int main(int argc, char **argv)
{
    unsigned n = 1000000, lookups = 1000000;
    const char *dir = "/tmp", *config = NULL, *error;
    const char *cases = NULL;
    int proxy = 0, keep = 0, ch;

    msg_init("bench-tables");
    while ((ch = getopt(argc, argv, "n:l:d:c:pkt:")) != -1) {
	switch (ch) {
	case 'n':
	    n = (unsigned)atol(optarg);
	    break;
	case 'l':
	    lookups = (unsigned)atol(optarg);
	    break;
	case 'd':
	    dir = optarg;
	    break;
	case 'c':
	    config = optarg;
	    break;
	case 'p':
	    proxy = 1;
	    break;
	case 'k':
	    keep = 1;
	    break;
	case 't':
	    cases = optarg;
	    break;
	default:
	    fprintf(
		stderr,
		"usage: %s [-n keys] [-l lookups] [-d dir] [-c config_dir] [-p] [-k] [-t cases]\n",
		argv[0]);
	    return 2;
	}
    }
    if (config && config_load(config, &error) < 0)
	msg_fatal("%s", error);
    if (n == 0 || lookups == 0)
	msg_fatal("-n and -l must be positive");

    char *path = mr_format("%s/keys", dir);
    char *cdb = mr_format("cdb:%s", path), *hash = mr_format("hash:%s", path);
    char **keys;

    double cdb_s = 0, hash_s = 0;

    if (cases == NULL)
	cases = proxy ? "cdb,hash,proxy:cdb,proxy:hash" : "cdb,hash";
    if (!keep) {
	double start = bench_now();

	bench_source(path, n);
	printf("source: %u keys written in %.3f s\n", n, bench_now() - start);
	cdb_s = bench_build(cdb);
	hash_s = bench_build(hash);
    }
    keys = bench_keys(n, lookups);
    if (bench_want(cases, "cdb-bare"))
	bench_bare(path, keys, lookups);
    if (bench_want(cases, "cdb"))
	bench_lookups(cdb, cdb_s, keys, lookups);
    if (bench_want(cases, "hash"))
	bench_lookups(hash, hash_s, keys, lookups);
    char *p1 = mr_format("proxy:%s", cdb), *p2 = mr_format("proxy:%s", hash);

    if (bench_want(cases, "proxy:cdb"))
	bench_lookups(p1, 0, keys, lookups);
    if (bench_want(cases, "proxy:hash"))
	bench_lookups(p2, 0, keys, lookups);
    mr_free(p1);
    mr_free(p2);
    for (unsigned i = 0; i < lookups; i++)
	mr_free(keys[i]);
    mr_free(keys);
    mr_free(cdb);
    mr_free(hash);
    mr_free(path);
    return 0;
}
