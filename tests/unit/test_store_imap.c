/*
 * test_store_imap.c - what the store keeps for IMAP: keywords named by
 * dovecot-keywords, modification sequences, expunged UIDs for QRESYNC,
 * flag changes that start from the file's current flags, the upgrade of a
 * first-format index, APPEND, hard-linked messages, and the index parser
 * fed every prefix of a good index and hostile numbers.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "store_fixture.h"
#include "store/store.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* test_dovecot_keywords - a Maildir made by Dovecot keeps its keywords:
 * letters and names are read, new names get the next free letter in the
 * same file, and the letters survive flag changes */
static void test_dovecot_keywords(void **state)
{
    char *box = fx_new_box();
    store_t *st = fx_open(box);
    const char *err;
    unsigned long uid = 1;
    str_t *kw;

    fx_put(box, ".", "dovecot-keywords", "0 $Forwarded\n1 Work\nbad line\n30 Far\n");
    fx_put(box, "cur", "100.M1P1Q1.h:2,Sb", "x\n");
    assert_int_equal(store_sync(st, &err), 0);
    assert_int_equal(st->count, 1);
    assert_string_equal(st->msgs[0].flags, "Sb");
    assert_string_equal(st->keywords[0], "$Forwarded");
    assert_string_equal(st->keywords[1], "Work");
    assert_null(st->keywords[2]);
    assert_int_equal(store_keyword(st, "work", 0, &err), 'b');
    assert_int_equal(store_keyword(st, "Home", 0, &err), 0);
    assert_int_equal(store_keyword(st, "Home", 1, &err), 'c');
    assert_int_equal(store_keyword(st, "bad name", 1, &err), -1);
    assert_int_equal(store_keyword(st, "\\Seen", 1, &err), -1);
    kw = fx_slurp(box, "dovecot-keywords");
    assert_string_equal(str_data(kw), "0 $Forwarded\n1 Work\n2 Home\n");
    str_free(&kw);
    assert_false(fx_exists(box, ".", "dovecot-keywords.lock"));
    assert_int_equal(store_change_flags(st, &uid, 1, STORE_FLAGS_ADD, "cF", 0, NULL, NULL, &err),
		     1);
    assert_string_equal(st->msgs[0].flags, "FSbc");
    assert_true(fx_exists(box, "cur", "100.M1P1Q1.h:2,FSbc"));
    assert_int_equal(store_change_flags(st, &uid, 1, STORE_FLAGS_REMOVE, "bS", 0, NULL, NULL, &err),
		     1);
    assert_true(fx_exists(box, "cur", "100.M1P1Q1.h:2,Fc"));
    store_close(&st);
    st = fx_open(box);
    assert_string_equal(st->msgs[0].flags, "Fc");
    assert_string_equal(st->keywords[2], "Home");
    store_close(&st);
    mr_free(box);
}

/* test_keywords_full - 26 names and no more */
static void test_keywords_full(void **state)
{
    char *box = fx_new_box();
    store_t *st = fx_open(box);
    const char *err;
    char name[16];

    for (int i = 0; i < STORE_MAX_KEYWORDS; i++) {
	snprintf(name, sizeof(name), "k%d", i);
	assert_int_equal(store_keyword(st, name, 1, &err), 'a' + i);
    }
    assert_int_equal(store_keyword(st, "one-more", 1, &err), -1);
    assert_int_equal(store_keyword(st, "K7", 1, &err), 'h');
    store_close(&st);
    mr_free(box);
}

/* test_modseq - new messages and every flag change, ours or another
 * program's, get a modseq above all before; HIGHESTMODSEQ follows */
static void test_modseq(void **state)
{
    char *box = fx_new_box(), *from, *to;
    store_t *st = fx_open(box);
    const char *err;
    unsigned long uids[] = {1, 2}, modified[2];
    unsigned long long m1, m2, high;
    size_t nmod;

    assert_int_equal(st->highest_modseq, 1);
    fx_put(box, "new", "100.M1P1Q1.h", "1\n");
    fx_put(box, "new", "101.M1P1Q2.h", "2\n");
    assert_int_equal(store_sync(st, &err), 0);
    m1 = st->msgs[0].modseq;
    m2 = st->msgs[1].modseq;
    assert_true(m1 > 1 && m2 > m1);
    assert_int_equal(st->highest_modseq, m2);
    assert_int_equal(store_change_flags(st, uids, 1, STORE_FLAGS_ADD, "S", 0, NULL, NULL, &err), 1);
    assert_true(st->msgs[0].modseq > m2);
    high = st->highest_modseq;
    assert_int_equal(st->msgs[0].modseq, high);
    /* no change, no new modseq */
    assert_int_equal(store_change_flags(st, uids, 1, STORE_FLAGS_ADD, "S", 0, NULL, NULL, &err), 0);
    assert_int_equal(st->highest_modseq, high);
    /* UNCHANGEDSINCE: message 1 changed after m2, message 2 did not */
    assert_int_equal(
	store_change_flags(st, uids, 2, STORE_FLAGS_ADD, "F", m2, modified, &nmod, &err), 1);
    assert_int_equal(nmod, 1);
    assert_int_equal(modified[0], 1);
    assert_string_equal(st->msgs[0].flags, "S");
    assert_string_equal(st->msgs[1].flags, "F");
    /* another program renames: the next sync gives a new modseq */
    high = st->highest_modseq;
    from = mr_format("%s/cur/100.M1P1Q1.h:2,S", box);
    to = mr_format("%s/cur/100.M1P1Q1.h:2,RS", box);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(store_sync(st, &err), 0);
    assert_string_equal(st->msgs[0].flags, "RS");
    assert_int_equal(st->msgs[0].modseq, high + 1);
    assert_int_equal(st->highest_modseq, high + 1);
    store_close(&st);
    st = fx_open(box);
    assert_int_equal(st->highest_modseq, high + 1);
    store_close(&st);
    mr_free(from);
    mr_free(to);
    mr_free(box);
}

/* test_vanished - expunged UIDs are kept with their modseq, in ranges */
static void test_vanished(void **state)
{
    char *box = fx_new_box(), name[64], *path;
    store_t *st = fx_open(box);
    const char *err;
    unsigned long gone[] = {2, 3, 4, 7};
    unsigned long long before;
    store_expunged_t *v;
    int complete;

    for (int i = 0; i < 8; i++) {
	snprintf(name, sizeof(name), "%d.M1P1Q%d.h", 100 + i, i);
	fx_put(box, "new", name, "m\n");
    }
    assert_int_equal(store_sync(st, &err), 0);
    before = st->highest_modseq;
    assert_int_equal(store_expunge(st, gone, 4, &err), 4);
    assert_int_equal(st->count, 4);
    assert_int_equal(store_vanished(st, before, &v, &complete), 2);
    assert_true(complete);
    assert_int_equal(v[0].first, 2);
    assert_int_equal(v[0].last, 4);
    assert_int_equal(v[1].first, 7);
    assert_int_equal(v[1].last, 7);
    assert_true(v[0].modseq > before);
    mr_free(v);
    /* deleted by another program: seen at the next sync */
    path = mr_format("%s/cur/100.M1P1Q0.h:2,", box);
    assert_int_equal(unlink(path), 0);
    mr_free(path);
    before = st->highest_modseq;
    assert_int_equal(store_sync(st, &err), 0);
    assert_int_equal(store_vanished(st, before, &v, &complete), 1);
    assert_int_equal(v[0].first, 1);
    mr_free(v);
    assert_int_equal(store_vanished(st, st->highest_modseq, &v, &complete), 0);
    assert_null(v);
    store_close(&st);
    st = fx_open(box);
    assert_int_equal(st->nexpunged, 3);
    store_close(&st);
    mr_free(box);
}

/* test_vanished_bound - the list keeps STORE_MAX_EXPUNGED ranges; older
 * ones are forgotten and a client asking from before them is told */
static void test_vanished_bound(void **state)
{
    store_t st = {0};
    store_expunged_t *v;
    int complete;
    size_t n;

    st.next_uid = 3 * STORE_MAX_EXPUNGED;
    for (unsigned long i = 0; i < STORE_MAX_EXPUNGED + 10; i++)
	store_expunged_add(&st, 2 * i + 1, i + 1); /* no two adjacent */
    assert_int_equal(st.nexpunged, STORE_MAX_EXPUNGED);
    assert_int_equal(st.forgotten, 10);
    n = store_vanished(&st, 5, &v, &complete);
    assert_false(complete);
    assert_int_equal(n, STORE_MAX_EXPUNGED);
    mr_free(v);
    n = store_vanished(&st, 10, &v, &complete);
    assert_true(complete);
    mr_free(v);
    store_index_clear(&st);
}

/* test_upgrade - a first-format index keeps its UIDVALIDITY and UIDs */
static void test_upgrade(void **state)
{
    char *box = fx_new_box();
    store_t *st = fx_open(box);
    const char *err;
    str_t *idx;

    fx_put(box, "cur", "100.M1P1Q1.h:2,S", "abc\n");
    fx_put(box, "cur", "101.M1P1Q2.h:2,", "de\n");
    fx_put(box, ".", STORE_INDEX_NAME, "MRIDX1 77 9\n4 S 4 5 100.M1P1Q1.h\n8 - 3 4 101.M1P1Q2.h\n");
    assert_int_equal(store_sync(st, &err), 0);
    assert_false(st->rebuilt);
    assert_int_equal(st->uidvalidity, 77);
    assert_int_equal(st->msgs[0].uid, 4);
    assert_int_equal(st->msgs[1].uid, 8);
    assert_int_equal(st->next_uid, 9);
    assert_int_equal(st->msgs[0].modseq, 1);
    assert_int_equal(store_set_flags(st, 8, "F", &err), 0);
    idx = fx_slurp(box, STORE_INDEX_NAME);
    assert_string_equal(str_data(idx),
			"MRIDX3 77 9 2 0\n4 S 4 5 1 100.M1P1Q1.h\n8 F 3 4 2 101.M1P1Q2.h\nE 2\n");
    str_free(&idx);
    store_close(&st);
    mr_free(box);
}

/* test_append - an appended message gets the next UID, a name with its
 * sizes and flags, the date given as its time, and counts in the quota;
 * nothing stays in tmp/ */
static void test_append(void **state)
{
    const char *text = "Subject: sent\n\nhello\r\nworld\n";
    char *box = fx_new_box(), *want, *path;
    store_t *st = fx_open(box);
    int fd = memfd_create("msg", 0);
    const char *err;
    unsigned long uid;
    store_quota_t q;
    struct stat sb;
    long i;
    str_t *s;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    fx_put(box, "new", "100.M1P1Q1.h", "x\n"); /* a delivery not yet seen */
    uid = store_append(st, fd, "Sx", 1700000000, &err);
    close(fd);
    assert_int_equal(uid, 2);
    assert_int_equal(st->msgs[0].uid, 1);
    i = store_find(st, uid);
    assert_int_equal(i, 1);
    assert_string_equal(st->msgs[i].flags, "Sx");
    assert_int_equal(st->msgs[i].size, (off_t)strlen(text));
    assert_int_equal(st->msgs[i].vsize, (off_t)strlen(text) + 3);
    want = mr_format(",S=%zu,W=%zu", strlen(text), strlen(text) + 3);
    assert_non_null(strstr(st->msgs[i].base, want));
    mr_free(want);
    path = mr_format("%s/cur/%s:2,Sx", box, st->msgs[i].base);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mtime, 1700000000);
    mr_free(path);
    s = fx_read_uid(st, uid);
    assert_string_equal(str_data(s), text);
    str_free(&s);
    assert_int_equal(store_quota(st, &q, &err), 0);
    assert_int_equal(q.bytes, 2 + (long long)strlen(text));
    assert_int_equal(q.count, 2);
    path = mr_format("%s/tmp", box);
    assert_int_equal(rmdir(path), 0); /* empty */
    mr_free(path);
    store_close(&st);
    mr_free(box);
}

/* test_hard_link - a message hard-linked into two folders (how Dovecot
 * copies) opens in both */
static void test_hard_link(void **state)
{
    char *box = fx_new_box(), *other = mr_format("%s/.Copy", box), *from, *to;
    store_t *st = fx_open(box), *cp;
    const char *err;
    str_t *s;

    fx_put(box, "cur", "100.M1P1Q1.h,S=5:2,S", "body\n");
    assert_int_equal(store_sync(st, &err), 0);
    cp = fx_open(other);
    from = mr_format("%s/cur/100.M1P1Q1.h,S=5:2,S", box);
    to = mr_format("%s/cur/100.M1P1Q1.h,S=5:2,S", other);
    assert_int_equal(link(from, to), 0);
    assert_int_equal(store_sync(cp, &err), 0);
    assert_int_equal(cp->count, 1);
    assert_int_equal(cp->msgs[0].vsize, 6);
    s = fx_read_uid(st, 1);
    assert_string_equal(str_data(s), "body\n");
    str_free(&s);
    s = fx_read_uid(cp, 1);
    assert_string_equal(str_data(s), "body\n");
    str_free(&s);
    store_close(&st);
    store_close(&cp);
    mr_free(from);
    mr_free(to);
    mr_free(other);
    mr_free(box);
}

/* test_parse_prefixes - every prefix of a good index: only those that
 * end a line parse; the others are refused (and nothing leaks) */
static void test_parse_prefixes(void **state)
{
    const char *good = "MRIDX2 5 9 12 3\n1 FSa 6 9 4 100.M1P1Q1.h,S=6\n"
		       "3 - 5 6 12 101.M1P1Q2.h\nX 2 2 7\nX 4 8 12\n";
    size_t len = strlen(good);

    for (size_t n = 1; n <= len; n++) {
	store_t st = {0};
	char *text = mr_strndup(good, n);
	size_t end;
	int r = store_index_parse(&st, text, n, &end);

	assert_int_equal(r, good[n - 1] == '\n' ? 0 : -1);
	store_index_clear(&st);
	mr_free(text);
    }
}

/* test_parse_hostile - absurd numbers and orders are refused */
static void test_parse_hostile(void **state)
{
    const char *bad[] = {
	"MRIDX2 5 9 0 0\n",                                 /* modseq 0 */
	"MRIDX2 5 9 3 4\n",                                 /* forgotten > highest */
	"MRIDX2 5 9 99999999999999999999999 0\n",           /* overflow */
	"MRIDX2 5 9 3 0 7\n",                               /* extra field */
	"MRIDX2 -5 9 3 0\n",                                /* sign */
	"MRIDX2 5 9 3 0\n1 S 6 9 4 a\n",                    /* modseq > highest */
	"MRIDX2 5 9 3 0\n1 S 6 9 0 a\n",                    /* modseq 0 */
	"MRIDX2 5 9 3 0\n1 aS 6 9 1 a\n",                   /* flags not sorted */
	"MRIDX2 5 9 3 0\n1 S 6 9 1 a\nX 3 2 2\n",           /* first > last */
	"MRIDX2 5 9 3 0\n1 S 6 9 1 a\nX 2 9 2\n",           /* last >= next */
	"MRIDX2 5 9 3 1\n1 S 6 9 1 a\nX 2 2 1\n",           /* forgotten */
	"MRIDX2 5 9 3 0\nX 2 2 3\nX 3 3 2\n",               /* modseq goes back */
	"MRIDX2 5 9 3 0\nX 2 2 3\n1 S 6 9 1 a\n",           /* message after X */
	"MRIDX1 5 9\n1 Sa 6 9 a\n",                         /* keyword in format 1 */
	"MRIDX2 5 9 3 0\n1 S 6 99999999999999999999 1 a\n", /* size overflow */
	"MRIDX2 5 9 3 0\n1 S 6 9 1 a b\n",                  /* space in name */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
	store_t st = {0};
	char *text = mr_strdup(bad[i]);

	size_t end;

	if (store_index_parse(&st, text, strlen(text), &end) != -1)
	    fail_msg("accepted: %s", bad[i]);
	store_index_clear(&st);
	mr_free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_dovecot_keywords), cmocka_unit_test(test_keywords_full),
	cmocka_unit_test(test_modseq),           cmocka_unit_test(test_vanished),
	cmocka_unit_test(test_vanished_bound),   cmocka_unit_test(test_upgrade),
	cmocka_unit_test(test_append),           cmocka_unit_test(test_hard_link),
	cmocka_unit_test(test_parse_prefixes),   cmocka_unit_test(test_parse_hostile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
