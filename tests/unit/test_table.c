/*
 * test_table.c - lookup tables: every type built from real files in a
 * temporary folder, case folding, address fall-backs, errors that must
 * never look like "not found", and the tabled protocol over a socket.
 */
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "global/mail_proto.h"
#include "table/table.h"
#include "table/table_priv.h"
#include "util/attr.h"
#include "util/mymalloc.h"
#include "util/sock.h"
#include "util/str.h"

static const char *sample = "# virtual aliases\n"
			    "Alice@Example.COM   alice@local.test\n"
			    "bob@example.com\tBob@Other.Test,\n"
			    "    carol@other.test\n"
			    "\n"
			    "   # an indented comment\n"
			    "@example.com        catchall@local.test\n";

/* tpath - a path in the temporary folder (static storage) */
static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int n;

    n = (n + 1) % 4;
    snprintf(buf[n], sizeof(buf[n]), "%s/%s", unit_tmpdir(), name);
    return buf[n];
}

/* expect - one lookup against an expected result and value */
static void expect(table_t *t, const char *key, int want, const char *value)
{
    str_t *v = str_new(10);
    const char *error = NULL;
    int r = table_lookup(t, key, v, &error);

    if (r != want)
	fail_msg("%s: lookup \"%s\" gave %d (want %d) error=%s", table_spec(t), key, r, want,
		 error ? error : "-");
    if (want == 1)
	assert_string_equal(str_data(v), value);
    str_free(&v);
}

/* open_ok - open a table or fail the test with its error */
static table_t *open_ok(const char *spec)
{
    const char *error = NULL;
    table_t *t = table_open(spec, &error);

    if (t == NULL)
	fail_msg("open %s: %s", spec, error);
    return t;
}

/* check_sample - the sample's lookups against one table */
static void check_sample(const char *spec)
{
    table_t *t = open_ok(spec);

    expect(t, "alice@example.com", 1, "alice@local.test");
    expect(t, "ALICE@example.com", 1, "alice@local.test");
    expect(t, "bob@EXAMPLE.com", 1, "Bob@Other.Test, carol@other.test");
    expect(t, "@example.com", 1, "catchall@local.test");
    expect(t, "nobody@example.com", 0, NULL);
    expect(t, "#", 0, NULL);
    table_close(&t);
    assert_null(t);
}

/* test_build_types - cdb, hash, btree built by table_build, and texthash */
static void test_build_types(void **state)
{
    const char *types[] = {"cdb", "hash", "btree"};
    const char *path = unit_write_file("sample", sample);
    const char *error;
    char spec[600];

    for (int i = 0; i < 3; i++) {
	snprintf(spec, sizeof(spec), "%s:%s", types[i], path);
	assert_int_equal(table_build(spec, 0, &error), 3);
	check_sample(spec);
    }
    snprintf(spec, sizeof(spec), "texthash:%s", path);
    check_sample(spec);
}

/* test_build_nul - -N tables (key and value with a NUL) read the same */
static void test_build_nul(void **state)
{
    const char *path = unit_write_file("nul", "Key value\n");
    const char *error;
    char spec[600];

    snprintf(spec, sizeof(spec), "cdb:%s", path);
    assert_int_equal(table_build(spec, TABLE_BUILD_NUL, &error), 1);
    table_t *t = open_ok(spec);
    expect(t, "miss", 0, NULL);
    expect(t, "KEY", 1, "value");
    expect(t, "key", 1, "value");
    table_close(&t);
    snprintf(spec, sizeof(spec), "hash:%s", path);
    assert_int_equal(table_build(spec, TABLE_BUILD_NUL, &error), 1);
    t = open_ok(spec);
    expect(t, "key", 1, "value");
    table_close(&t);
}

/* probe_nul_only - a probe that finds "key" only in its NUL form */
static int probe_nul_only(table_t *t, const char *key, size_t len, str_t *value,
			  const char **error_r)
{
    (*(int *)value->data)++; /* count the probes */
    return len == 4 && memcmp(key, "key", 4) == 0;
}

/* test_probe_forms - both forms until one hits, then only that one */
static void test_probe_forms(void **state)
{
    str_t *calls = str_new(sizeof(int));
    int forms = table_key_form(NULL, 0), *n = (int *)calls->data;
    const char *error;

    assert_int_equal(forms, TABLE_KEY_EITHER);
    assert_int_equal(table_key_form("k\0", 2), TABLE_KEY_NUL);
    assert_int_equal(table_key_form("k", 1), TABLE_KEY_PLAIN);
    *n = 0;
    assert_int_equal(table_probe_forms(NULL, &forms, probe_nul_only, "miss", 4, calls, &error), 0);
    assert_int_equal(*n, 2);
    assert_int_equal(forms, TABLE_KEY_EITHER);
    assert_int_equal(table_probe_forms(NULL, &forms, probe_nul_only, "key", 3, calls, &error), 1);
    assert_int_equal(forms, TABLE_KEY_NUL);
    *n = 0;
    assert_int_equal(table_probe_forms(NULL, &forms, probe_nul_only, "miss", 4, calls, &error), 0);
    assert_int_equal(*n, 1);
    str_free(&calls);
}

/* test_aliases - postalias-style source and texthash reading it */
static void test_aliases(void **state)
{
    const char *path = unit_write_file("aliases", "Postmaster: root\n"
						  "abuse : postmaster,\n  alice\n"
						  "list:\t:include:/etc/list\n");
    const char *error;
    char spec[600];

    snprintf(spec, sizeof(spec), "cdb:%s", path);
    assert_int_equal(table_build(spec, TABLE_BUILD_ALIAS, &error), 3);
    table_t *t = open_ok(spec);
    expect(t, "postmaster", 1, "root");
    expect(t, "abuse", 1, "postmaster, alice");
    expect(t, "list", 1, ":include:/etc/list");
    table_close(&t);
    snprintf(spec, sizeof(spec), "texthash:%s", path);
    t = open_ok(spec);
    expect(t, "postmaster", 1, "root");
    table_close(&t);
}

/* test_bad_source - a bad line names file:line and keeps the old table */
static void test_bad_source(void **state)
{
    const char *path = unit_write_file("bad", "good value\n");
    const char *error;
    char spec[600];
    table_t *t;

    snprintf(spec, sizeof(spec), "cdb:%s", path);
    assert_int_equal(table_build(spec, 0, &error), 1);
    unit_write_file("bad", "good changed\n# fine\nlonely\n");
    assert_int_equal(table_build(spec, 0, &error), -1);
    assert_non_null(strstr(error, "/bad:3: expected \"key whitespace value\""));
    t = open_ok(spec);
    expect(t, "good", 1, "value");
    table_close(&t);
    unit_write_file("bad", "  starts with space\n");
    assert_int_equal(table_build(spec, 0, &error), -1);
    assert_non_null(strstr(error, "/bad:1: continuation line"));
    snprintf(spec, sizeof(spec), "texthash:%s", path);
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "/bad:1:"));
    /* no temporary file is left behind */
    struct stat st;
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.cdb.tmp.%ld", path, (long)getpid());
    assert_int_equal(stat(tmp, &st), -1);
}

/* test_missing_and_corrupt - errors, never "not found" */
static void test_missing_and_corrupt(void **state)
{
    const char *error;
    char junk[4096];
    table_t *t;
    str_t *v = str_new(10);

    assert_null(table_open("cdb:/nonexistent/x", &error));
    assert_non_null(strstr(error, "/nonexistent/x.cdb"));
    assert_null(table_open("hash:/nonexistent/x", &error));
    assert_non_null(strstr(error, "/nonexistent/x.db"));
    assert_null(table_open("texthash:/nonexistent/x", &error));
    assert_non_null(strstr(error, "/nonexistent/x"));
    assert_null(table_open("regexp:/nonexistent/x", &error));
    assert_null(table_open("nosuchtype:/x", &error));
    assert_non_null(strstr(error, "nosuchtype"));
    assert_null(table_open("nocolon", &error));

    /* too short for a cdb file */
    unit_write_file("short.cdb", "garbage");
    assert_null(table_open(tpath("short"), &error)); /* no type */
    char spec[600];
    snprintf(spec, sizeof(spec), "cdb:%s", tpath("short"));
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "short.cdb"));

    /* a header whose offsets point far outside the file */
    memset(junk, 0xff, sizeof(junk));
    int fd = open(tpath("junk.cdb"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
    close(fd);
    snprintf(spec, sizeof(spec), "cdb:%s", tpath("junk"));
    if ((t = table_open(spec, &error)) != NULL) {
	assert_int_equal(table_lookup(t, "anykey", v, &error), -1);
	assert_non_null(strstr(error, "junk.cdb"));
	table_close(&t);
    } else {
	assert_non_null(strstr(error, "junk.cdb"));
    }

    /* a .db that is not Berkeley DB, and a cdb opened as hash */
    fd = open(tpath("junk.db"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
    close(fd);
    snprintf(spec, sizeof(spec), "hash:%s", tpath("junk"));
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "junk.db"));
    unit_write_file("kind", "a b\n");
    snprintf(spec, sizeof(spec), "btree:%s", tpath("kind"));
    assert_int_equal(table_build(spec, 0, &error), 1);
    snprintf(spec, sizeof(spec), "hash:%s", tpath("kind"));
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "kind.db"));

    /* a truncated hash file */
    snprintf(spec, sizeof(spec), "hash:%s", tpath("kind"));
    assert_int_equal(table_build(spec, 0, &error), 1);
    assert_int_equal(truncate(tpath("kind.db"), 100), 0);
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "kind.db"));
    str_free(&v);
}

/* test_inline - inline: tables and list splitting with braces */
static void test_inline(void **state)
{
    const char *error;
    table_t *t = open_ok("inline:{A=b, c = d e,{ f g = h, i },j=}");

    expect(t, "a", 1, "b");
    expect(t, "C", 1, "d e");
    expect(t, "e", 0, NULL);
    expect(t, "f g", 1, "h, i");
    expect(t, "j", 1, "");
    table_close(&t);
    assert_null(table_open("inline:{a=b", &error));
    assert_null(table_open("inline:{a}", &error));
    assert_non_null(strstr(error, "no '='"));
    assert_null(table_open("inline:{{a=b}", &error));

    table_list_t *l = table_list_open("inline:{x=1, y=2}, inline:{y=3 z=4}", &error);
    str_t *v = str_new(10);
    assert_non_null(l);
    assert_int_equal(table_list_lookup(l, "y", v, &error), 1);
    assert_string_equal(str_data(v), "2");
    assert_int_equal(table_list_lookup(l, "z", v, &error), 1);
    assert_string_equal(str_data(v), "4");
    assert_int_equal(table_list_lookup(l, "w", v, &error), 0);
    table_list_close(&l);
    assert_null(l);
    l = table_list_open("", &error);
    assert_true(table_list_empty(l));
    table_list_close(&l);
    assert_null(table_list_open("inline:{a=b} cdb:/nonexistent/y", &error));
    assert_non_null(strstr(error, "/nonexistent/y.cdb"));
    str_free(&v);
}

/* lookup_addr - one address lookup; returns the value or "-" / "ERR" */
static const char *lookup_addr(table_list_t *l, const char *addr, int local_too)
{
    static str_t *v;
    const char *error;
    int r;

    if (v == NULL)
	v = str_new(10);
    r = table_list_lookup_addr(l, addr, "+", local_too, v, &error);
    return r == 1 ? str_data(v) : r == 0 ? "-" : "ERR";
}

/* test_addr_fallbacks - user+ext@domain ... @domain, in order */
static void test_addr_fallbacks(void **state)
{
    const char *error;
    table_list_t *l = table_list_open(
	"inline:{u+e@d.test=full, u@d.test=user-at, u+e=bare-ext, u=bare, @d.test=domain}", &error);

    assert_non_null(l);
    assert_string_equal(lookup_addr(l, "u+e@d.test", 1), "full");
    assert_string_equal(lookup_addr(l, "U+X@D.test", 1), "user-at");
    assert_string_equal(lookup_addr(l, "other@d.test", 1), "domain");
    assert_string_equal(lookup_addr(l, "other@e.test", 1), "-");
    assert_string_equal(lookup_addr(l, "u", 0), "bare");
    assert_string_equal(lookup_addr(l, "u+e", 0), "bare-ext");
    table_list_close(&l);

    l = table_list_open("inline:{u+e=bare-ext, u=bare, @d.test=domain}", &error);
    assert_string_equal(lookup_addr(l, "u+e@d.test", 1), "bare-ext");
    assert_string_equal(lookup_addr(l, "u+f@d.test", 1), "bare");
    /* not our domain: the bare local forms are not tried */
    assert_string_equal(lookup_addr(l, "u+f@d.test", 0), "domain");
    /* a delimiter in first position is not an extension */
    assert_string_equal(lookup_addr(l, "+u@x.test", 1), "-");
    table_list_close(&l);

    l = table_list_open("inline:{a=1}, cdb:/nonexistent/z", &error);
    assert_null(l);
}

/* test_regexp - substitution, negation, flags, errors */
static void test_regexp(void **state)
{
    const char *path = unit_write_file("re", "# rules\n"
					     "/^(.*)@old\\.test$/   $1@new.test\n"
					     "/^Exact$/i            case-sensitive\n"
					     "/^x (a)(b)?$/x        [${1}${2}$$]\n"
					     "!/\\.test$/           not-ours\n"
					     "/^(\\w+)-(\\w+)@/     ${2}.$1\n");
    const char *error;
    char spec[600];
    table_t *t;

    for (int pass = 0; pass < 2; pass++) {
	snprintf(spec, sizeof(spec), "%s:%s", pass ? "pcre" : "regexp", path);
	t = open_ok(spec);
	expect(t, "Joe@OLD.test", 1, "Joe@new.test");
	expect(t, "Exact", 1, "case-sensitive");
	expect(t, "exact", 1, "not-ours");
	expect(t, "xa", 1, "[a$]");
	expect(t, "xab", 1, "[ab$]");
	expect(t, "one-two@x.test", 1, "two.one");
	expect(t, "nothing@x.test", 0, NULL);
	table_close(&t);
    }
    unit_write_file("re2", "/a/ ok\n/(unclosed/ x\n");
    snprintf(spec, sizeof(spec), "regexp:%s", tpath("re2"));
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "re2:2: bad pattern"));
    unit_write_file("re2", "/a(b)/ $2\n");
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "re2:1: result refers to a group"));
    unit_write_file("re2", "!/a(b)/ $1\n");
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "re2:1:"));
    unit_write_file("re2", "/a/q x\n");
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "re2:1: unknown flag"));
    unit_write_file("re2", "/a/\n");
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "re2:1: no result"));
    unit_write_file("re2", "/a/s x\n");
    assert_null(table_open(spec, &error)); /* s is pcre: only */
    snprintf(spec, sizeof(spec), "pcre:%s", tpath("re2"));
    t = open_ok(spec);
    table_close(&t);
}

/* test_changed - table_changed sees a rebuild */
static void test_changed(void **state)
{
    const char *path = unit_write_file("chg", "k v1\n");
    const char *error;
    char spec[600];

    snprintf(spec, sizeof(spec), "cdb:%s", path);
    assert_int_equal(table_build(spec, 0, &error), 1);
    table_t *t = open_ok(spec);
    assert_int_equal(table_changed(t), 0);
    unit_write_file("chg", "k v2\n");
    assert_int_equal(table_build(spec, 0, &error), 1);
    assert_int_equal(table_changed(t), 1);
    expect(t, "k", 1, "v1"); /* the old copy still reads */
    table_close(&t);
    t = open_ok(spec);
    expect(t, "k", 1, "v2");
    table_close(&t);
}

/* server_allowed - test policy: only inline tables with key "a" */
static int server_allowed(const char *spec, void *context)
{
    return strncmp(spec, "inline:{a=", 10) == 0 || strncmp(spec, "cdb:", 4) == 0;
}

/* server_get - open on each request (the caller would cache) */
static table_t *server_get(const char *spec, void *context, const char **error_r)
{
    static table_t *last;

    table_close(&last);
    return last = table_open(spec, error_r);
}

/* start_server - a child that serves nconn connections on path */
static pid_t start_server(const char *path, int nconn)
{
    const char *why;
    int lfd = sock_listen_unix(path, 5, 0600, &why);
    pid_t pid;

    assert_true(lfd >= 0);
    if ((pid = fork()) == 0) {
	for (int i = 0; i < nconn; i++) {
	    int fd = accept(lfd, NULL, NULL);
	    stream_t *s;

	    if (fd < 0)
		_exit(1);
	    s = stream_open(fd);
	    stream_set_timeout(s, 10);
	    (void)table_server_serve(s, server_allowed, server_get, NULL);
	    stream_close(&s);
	}
	_exit(0);
    }
    close(lfd);
    return pid;
}

/* test_proxy - proxy: and unix: tables against table_server_serve */
static void test_proxy(void **state)
{
    char dir[600];
    const char *error;
    str_t *v = str_new(10);
    int status;
    table_t *t, *t2, *bad, *u;

    snprintf(dir, sizeof(dir), "%s/private", unit_tmpdir());
    mkdir(dir, 0700);
    config_override("queue_directory", unit_tmpdir());
    pid_t pid = start_server(tpath("private/tabled"), 2);

    t = open_ok("proxy:inline:{a=1, B=Two}");
    t2 = open_ok("proxy:inline:{a=x}");
    bad = open_ok("proxy:texthash:/etc/passwd");
    expect(t, "A", 1, "1");
    expect(t, "b", 1, "Two");
    expect(t, "c", 0, NULL);
    expect(t2, "a", 1, "x"); /* same connection */
    assert_int_equal(table_lookup(bad, "root", v, &error), -1);
    assert_non_null(strstr(error, "not in proxy_read_maps"));
    assert_int_equal(table_lookup(t, "line\nbreak", v, &error), -1);
    table_close(&t);
    table_close(&t2);
    table_close(&bad);
    assert_null(table_open("proxy:nocolon", &error));

    /* unix: names itself as the table; the test policy refuses it */
    char *uspec = mr_format("unix:%s", tpath("private/tabled"));
    u = open_ok(uspec);
    mr_free(uspec);
    assert_int_equal(table_lookup(u, "a", v, &error), -1);
    assert_non_null(strstr(error, "not in proxy_read_maps"));
    table_close(&u);

    /* a server that is gone is an error, not a miss */
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    unlink(tpath("private/tabled"));
    t = open_ok("proxy:inline:{a=1}");
    /* the old connection fails, the retry cannot connect */
    assert_int_equal(table_lookup(t, "a", v, &error), -1);
    assert_non_null(strstr(error, "proxy:inline:{a=1}"));
    table_close(&t);
    str_free(&v);
}

/* test_server_protocol - raw requests: unknown, malformed */
static void test_server_protocol(void **state)
{
    int sv[2];
    pid_t pid;
    attr_list_t *l = attr_list_new();

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if ((pid = fork()) == 0) {
	stream_t *s = stream_open(sv[1]);

	close(sv[0]);
	_exit(table_server_serve(s, server_allowed, server_get, NULL) == -1 ? 0 : 1);
    }
    close(sv[1]);
    stream_t *c = stream_open(sv[0]);
    const char *why;
    assert_int_equal(attr_expect_protocol(c, MAIL_PROTO_TABLED, &why), 1);
    attr_send(c, "request", "frobnicate", (char *)NULL);
    assert_int_equal(attr_read(c, l), 1);
    assert_string_equal(attr_get(l, "status"), "2");
    assert_non_null(strstr(attr_get(l, "reason"), "unknown request"));
    attr_send(c, "request", "lookup", "table", "inline:{a=b}", (char *)NULL);
    assert_int_equal(attr_read(c, l), 1);
    assert_string_equal(attr_get(l, "status"), "2");
    stream_puts(c, "bad line without equals\n\n");
    stream_flush(c);
    assert_int_equal(attr_read(c, l), 0); /* server hung up */
    stream_close(&c);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    attr_list_free(&l);
}

/* test_fold_key - the word-at-a-time fold equals tolower() in the C
 * locale, for every byte, at every length and offset */
static void test_fold_key(void **state)
{
    str_t *out = str_new(4);
    char key[40];

    for (int c = 1; c < 256; c++) {
	for (size_t len = 1; len < sizeof(key); len++) {
	    for (size_t i = 0; i < len; i++)
		key[i] = (char)(i == len / 2 ? c : 'a' + (int)(i % 26));
	    table_fold_key(out, key, len);
	    assert_int_equal(str_len(out), len);
	    assert_int_equal(str_data(out)[len], 0);
	    for (size_t i = 0; i < len; i++)
		assert_int_equal((unsigned char)str_data(out)[i], tolower((unsigned char)key[i]));
	}
    }
    table_fold_key(out, "", 0);
    assert_int_equal(str_len(out), 0);
    str_free(&out);
}

/* test_fold_lookup - keys of many lengths with upper case anywhere, and
 * bytes >= 0x80 (never folded), through cdb, hash and texthash */
static void test_fold_lookup(void **state)
{
    const char *types[] = {"cdb", "hash", "texthash"};
    const char *path = unit_write_file("fold", "a 1\nabcdefg 7\nabcdefgh 8\nabcdefghi 9\n"
					       "abcdefghijklmnopq 17\n\xc4x latin1\n");
    const char *error;
    char spec[600];

    for (int i = 0; i < 3; i++) {
	snprintf(spec, sizeof(spec), "%s:%s", types[i], path);
	if (i < 2)
	    assert_int_equal(table_build(spec, 0, &error), 6);
	table_t *t = open_ok(spec);

	expect(t, "A", 1, "1");
	expect(t, "abcdefG", 1, "7");
	expect(t, "Abcdefgh", 1, "8");
	expect(t, "abcdefghI", 1, "9");
	expect(t, "abcdefghijklmnoPQ", 1, "17");
	expect(t, "ABCDEFGHIJKLMNOPQ", 1, "17");
	expect(t, "abcdefghijklmnopqr", 0, NULL);
	expect(t, "\xc4X", 1, "latin1");
	expect(t, "\xe4x", 0, NULL); /* no Latin-1 folding */
	table_close(&t);
    }
}

/* test_cdb_bad_record - a record pointing outside the file is an error
 * naming the file, never "not found" */
static void test_cdb_bad_record(void **state)
{
    const char *path = unit_write_file("rec", "a b\n");
    const char *error;
    char spec[600];
    unsigned char huge[4] = {0xff, 0xff, 0xff, 0x7f};
    str_t *v = str_new(10);

    snprintf(spec, sizeof(spec), "cdb:%s", path);
    assert_int_equal(table_build(spec, 0, &error), 1);
    int fd = open(tpath("rec.cdb"), O_WRONLY);

    assert_true(fd >= 0);
    /* the first record starts right after the 2048-byte header */
    assert_int_equal(pwrite(fd, huge, 4, 2048), 4);
    close(fd);
    table_t *t = open_ok(spec);

    assert_int_equal(table_lookup(t, "a", v, &error), -1);
    assert_non_null(strstr(error, "rec.cdb"));
    assert_int_equal(str_len(v), 0);
    expect(t, "zz", 0, NULL);
    table_close(&t);
    str_free(&v);
}

/* test_hash_shapes - hash: files built for small and large entries, and
 * with -N, read back in full */
static void test_hash_shapes(void **state)
{
    str_t *src = str_new(1000);
    str_t *want = str_new(100);
    const char *error;
    char spec[600], key[40];

    for (int big = 0; big < 2; big++) {
	str_reset(src);
	for (int i = 0; i < 3000; i++) {
	    str_appendf(src, "Key%d ", i);
	    for (int j = 0; j < (big ? 700 : 3); j++)
		str_appendc(src, 'a' + (i + j) % 26);
	    str_appendc(src, '\n');
	}
	const char *path = unit_write_file(big ? "shape_big" : "shape_small", str_data(src));

	for (int nul = 0; nul < 2; nul++) {
	    snprintf(spec, sizeof(spec), "hash:%s", path);
	    assert_int_equal(table_build(spec, nul ? TABLE_BUILD_NUL : 0, &error), 3000);
	    table_t *t = open_ok(spec);

	    for (int i = 0; i < 3000; i += 7) {
		str_reset(want);
		for (int j = 0; j < (big ? 700 : 3); j++)
		    str_appendc(want, 'a' + (i + j) % 26);
		snprintf(key, sizeof(key), "KEY%d", i);
		expect(t, key, 1, str_data(want));
	    }
	    expect(t, "key3000", 0, NULL);
	    table_close(&t);
	}
    }
    str_free(&src);
    str_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_build_types),    cmocka_unit_test(test_build_nul),
	cmocka_unit_test(test_probe_forms),    cmocka_unit_test(test_aliases),
	cmocka_unit_test(test_bad_source),     cmocka_unit_test(test_missing_and_corrupt),
	cmocka_unit_test(test_inline),         cmocka_unit_test(test_addr_fallbacks),
	cmocka_unit_test(test_regexp),         cmocka_unit_test(test_changed),
	cmocka_unit_test(test_proxy),          cmocka_unit_test(test_server_protocol),
	cmocka_unit_test(test_fold_key),       cmocka_unit_test(test_fold_lookup),
	cmocka_unit_test(test_cdb_bad_record), cmocka_unit_test(test_hash_shapes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
