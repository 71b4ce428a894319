/*
 * test_store.c - the Maildir store and its UID index: round trip, rebuild
 * of a corrupt or missing index, mail arriving while a session is open,
 * two sessions on one mailbox, flags, expunge, folder names; two
 * processes changing flags while a third delivers; a 10,000-message
 * mailbox that opens from its index without opening a message.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "store_fixture.h"
#include "store/store.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* test_round_trip - UIDs, sizes and flags survive close and reopen */
static void test_round_trip(void **state)
{
    char *box = fx_new_box();
    store_t *st = fx_open(box), *st2;
    const char *err;
    str_t *s;

    assert_int_equal(st->count, 0);
    assert_true(st->rebuilt);
    fx_deliver(box, "100.M1P1Q1.h,S=6", "a\nb\nc\n");
    fx_deliver(box, "101.M1P1Q2.h", "x\r\ny\n");
    assert_int_equal(store_sync(st, &err), 0);
    assert_int_equal(st->count, 2);
    assert_int_equal(st->msgs[0].uid, 1);
    assert_string_equal(st->msgs[0].base, "100.M1P1Q1.h,S=6");
    assert_int_equal(st->msgs[0].size, 6);
    assert_int_equal(st->msgs[0].vsize, 9);
    assert_int_equal(st->msgs[1].uid, 2);
    assert_int_equal(st->msgs[1].size, 5);
    assert_int_equal(st->msgs[1].vsize, 6);
    assert_int_equal(store_set_flags(st, 2, "S", &err), 0);
    st2 = fx_open(box);
    assert_false(st2->rebuilt);
    assert_int_equal(st2->uidvalidity, st->uidvalidity);
    assert_int_equal(st2->next_uid, 3);
    assert_int_equal(st2->count, 2);
    assert_string_equal(st2->msgs[1].flags, "S");
    assert_int_equal(st2->msgs[1].vsize, 6);
    s = fx_read_uid(st2, 2);
    assert_string_equal(str_data(s), "x\r\ny\n");
    str_free(&s);
    store_close(&st);
    store_close(&st2);
    assert_null(st);
    mr_free(box);
}

/* test_corrupt_rebuild - each damage gives a new UIDVALIDITY and every
 * message back, numbered from 1 */
static void test_corrupt_rebuild(void **state)
{
    const char *bad[] = {
	"garbage\n",
	"MRIDX1 5 3\n1 S 6 9 100.M1P1Q1.h,S=6\n1 - 5 6 101.M1P1Q2.h\n", /* UID twice */
	"MRIDX1 5 2\n1 - 6 9 100.M1P1Q1.h,S=6\n2 - 5 6 101.M1P1Q2.h\n", /* UID >= next */
	"MRIDX1 5 3\n1 SX 6 9 100.M1P1Q1.h,S=6\n",                      /* unknown flag */
	"MRIDX1 5 3\n1 - 6 9 100.M1P1Q1.h,S=6",                         /* truncated line */
	"MRIDX1 5 3\n1 - 6 2 100.M1P1Q1.h,S=6\n",                       /* vsize < size */
	"MRIDX1 5 3\n1 - 6 9\n",                                        /* no name */
	"MRIDX1 0 3\n",                                                 /* UIDVALIDITY 0 */
	"",
    };
    char *box = fx_new_box();
    store_t *st = fx_open(box);
    const char *err;

    fx_deliver(box, "100.M1P1Q1.h,S=6", "a\nb\nc\n");
    fx_deliver(box, "101.M1P1Q2.h", "x\r\ny\n");
    assert_int_equal(store_sync(st, &err), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
	unsigned long old = st->uidvalidity;

	fx_put(box, ".", STORE_INDEX_NAME, bad[i]);
	assert_int_equal(store_sync(st, &err), 0);
	assert_true(st->rebuilt);
	assert_true(st->uidvalidity > old);
	assert_int_equal(st->count, 2);
	assert_int_equal(st->msgs[0].uid, 1);
	assert_int_equal(st->msgs[1].uid, 2);
	assert_int_equal(st->msgs[0].vsize, 9);
	assert_int_equal(store_sync(st, &err), 0);
	assert_false(st->rebuilt);
    }
    store_close(&st);
    mr_free(box);
}

/* test_missing_index - a deleted index is rebuilt */
static void test_missing_index(void **state)
{
    char *box = fx_new_box(), *idx = mr_format("%s/%s", box, STORE_INDEX_NAME);
    store_t *st = fx_open(box);
    const char *err;

    fx_deliver(box, "100.M1P1Q1.h", "a\n");
    assert_int_equal(store_sync(st, &err), 0);
    assert_int_equal(unlink(idx), 0);
    assert_int_equal(store_sync(st, &err), 0);
    assert_true(st->rebuilt);
    assert_int_equal(st->count, 1);
    store_close(&st);
    mr_free(idx);
    mr_free(box);
}

/* test_concurrent - mail delivered while two sessions are open shows up
 * at the next sync of either, with one UID for both; UIDs never reused */
static void test_concurrent(void **state)
{
    char *box = fx_new_box();
    store_t *a = fx_open(box), *b = fx_open(box);
    const char *err;
    char name[64];
    unsigned long expunged = 2;

    for (int i = 0; i < 20; i++) {
	snprintf(name, sizeof(name), "%d.M1P1Q%d.h", 200 + i, i);
	fx_deliver(box, name, "m\n");
	assert_int_equal(store_sync(i % 2 ? a : b, &err), 0);
    }
    assert_int_equal(store_sync(a, &err), 0);
    assert_int_equal(store_sync(b, &err), 0);
    assert_int_equal(a->count, 20);
    assert_int_equal(b->count, 20);
    for (size_t i = 0; i < 20; i++) {
	assert_int_equal(a->msgs[i].uid, i + 1);
	assert_string_equal(a->msgs[i].base, b->msgs[i].base);
    }
    assert_int_equal(store_expunge(a, &expunged, 1, &err), 1);
    fx_deliver(box, "300.M1P1Q1.h", "late\n");
    assert_int_equal(store_sync(b, &err), 0);
    assert_int_equal(b->count, 20);
    assert_int_equal(store_find(b, 2), -1);
    assert_int_equal(b->msgs[19].uid, 21);
    assert_int_equal(b->next_uid, 22);
    store_close(&a);
    store_close(&b);
    mr_free(box);
}

/* test_stable_uids - repeated syncs and reopenings keep every UID */
static void test_stable_uids(void **state)
{
    char *box = fx_new_box();
    store_t *st = fx_open(box);
    const char *err;
    unsigned long validity;

    fx_deliver(box, "100.M1P1Q1.h", "1\n");
    fx_deliver(box, "99.M1P1Q2.h", "2\n");
    assert_int_equal(store_sync(st, &err), 0);
    /* order of arrival: 99 seconds before 100 */
    assert_string_equal(st->msgs[0].base, "99.M1P1Q2.h");
    validity = st->uidvalidity;
    for (int i = 0; i < 5; i++) {
	store_close(&st);
	st = fx_open(box);
	assert_int_equal(st->uidvalidity, validity);
	assert_int_equal(st->msgs[0].uid, 1);
	assert_string_equal(st->msgs[1].base, "100.M1P1Q1.h");
	assert_int_equal(st->msgs[1].uid, 2);
    }
    store_close(&st);
    mr_free(box);
}

/* test_expunge - deleted files and index entries go, the rest stay */
static void test_expunge(void **state)
{
    char *box = fx_new_box(), *path;
    store_t *st = fx_open(box);
    const char *err;
    unsigned long uids[] = {1, 3, 99};
    struct stat sb;

    fx_deliver(box, "100.M1P1Q1.h", "1\n");
    fx_deliver(box, "101.M1P1Q2.h", "2\n");
    fx_deliver(box, "102.M1P1Q3.h", "3\n");
    assert_int_equal(store_sync(st, &err), 0);
    assert_int_equal(store_set_flags(st, 3, "TS", &err), 0);
    assert_int_equal(store_expunge(st, uids, 3, &err), 2);
    assert_int_equal(st->count, 1);
    assert_int_equal(st->msgs[0].uid, 2);
    path = mr_format("%s/cur/101.M1P1Q2.h:2,", box);
    assert_int_equal(stat(path, &sb), 0);
    mr_free(path);
    path = mr_format("%s/cur/100.M1P1Q1.h:2,", box);
    assert_int_equal(stat(path, &sb), -1);
    mr_free(path);
    assert_int_equal(store_expunge(st, uids, 3, &err), 0);
    store_close(&st);
    st = fx_open(box);
    assert_int_equal(st->count, 1);
    assert_int_equal(st->next_uid, 4);
    store_close(&st);
    mr_free(box);
}

/* test_flags_elsewhere - a flag change made by another program (a rename
 * in cur/) is seen, and the message still opens */
static void test_flags_elsewhere(void **state)
{
    char *box = fx_new_box(), *from, *to;
    store_t *st = fx_open(box);
    const char *err;
    str_t *s;

    fx_deliver(box, "100.M1P1Q1.h", "body\n");
    assert_int_equal(store_sync(st, &err), 0);
    from = mr_format("%s/cur/100.M1P1Q1.h:2,", box);
    to = mr_format("%s/cur/100.M1P1Q1.h:2,RS", box);
    assert_int_equal(rename(from, to), 0);
    s = fx_read_uid(st, 1);
    assert_string_equal(str_data(s), "body\n");
    str_free(&s);
    assert_int_equal(store_sync(st, &err), 0);
    assert_string_equal(st->msgs[0].flags, "RS");
    assert_int_equal(store_set_flags(st, 1, "D", &err), 0);
    assert_string_equal(st->msgs[0].flags, "D");
    assert_int_equal(store_msg_open(st, 7, &err), -1);
    mr_free(from);
    mr_free(to);
    store_close(&st);
    mr_free(box);
}

/* test_new_user - a mailbox whose folders do not exist yet is made */
static void test_new_user(void **state)
{
    char *box = mr_format("%s/dom/newuser/Maildir", unit_tmpdir());
    store_t *st = fx_open(box);

    assert_int_equal(st->count, 0);
    store_close(&st);
    mr_free(box);
}

/* test_folder_path - Maildir++ names and refused ones */
static void test_folder_path(void **state)
{
    const char *bad[] = {"a..b", "../x", "a/", "/a", "a//b", ".a", "a\nb"};
    char *p;

    p = store_folder_path("/m", "INBOX");
    assert_string_equal(p, "/m");
    mr_free(p);
    p = store_folder_path("/m", "Work/Sub");
    assert_string_equal(p, "/m/.Work.Sub");
    mr_free(p);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	assert_null(store_folder_path("/m", bad[i]));
}

#define RACE_MESSAGES 200

/* race_deliver - deliver RACE_MESSAGES messages the way local does (tmp/,
 * then a rename into new/); exit status 0 */
static void race_deliver(const char *box)
{
    char name[64], *tmp, *dst;
    int fd;

    for (int i = 0; i < RACE_MESSAGES; i++) {
	snprintf(name, sizeof(name), "%d.M%dP1Q1.race", 1000 + i, i);
	tmp = mr_format("%s/tmp/%s", box, name);
	dst = mr_format("%s/new/%s", box, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, name, strlen(name)) != (ssize_t)strlen(name) || close(fd) < 0 ||
	    rename(tmp, dst) < 0)
	    _exit(1);
	mr_free(tmp);
	mr_free(dst);
    }
    _exit(0);
}

/* race_flagger - add letter to every message, one message per call, until
 * all RACE_MESSAGES have it; exit status 0 */
static void race_flagger(const char *box, const char *letter)
{
    store_t *st = NULL;
    const char *err;
    int done = 0;

    if (store_open(box, &st, &err) < 0)
	_exit(1);
    while (!done) {
	if (store_sync(st, &err) < 0)
	    _exit(2);
	done = st->count == RACE_MESSAGES;
	for (size_t i = 0; i < st->count; i++) {
	    unsigned long uid = st->msgs[i].uid;

	    if (strchr(st->msgs[i].flags, *letter))
		continue;
	    done = 0;
	    if (store_change_flags(st, &uid, 1, STORE_FLAGS_ADD, letter, 0, NULL, NULL, &err) < 0)
		_exit(3);
	}
    }
    store_close(&st);
    _exit(0);
}

/* race_check_index - the index file as a whole: a snapshot and whole
 * transactions only, and what it says is st: one message per delivery in
 * order, every flag of the three processes, distinct modseqs */
static void race_check_index(const char *box, const store_t *st)
{
    char *path = mr_format("%s/%s", box, STORE_INDEX_NAME), name[64];
    str_t *text = str_new(4096);
    unsigned char *seen = calloc(st->highest_modseq + 1, 1);
    store_t disk = {0};
    size_t end;
    char buf[4096];
    ssize_t n;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
	str_append(text, buf, (size_t)n);
    close(fd);
    assert_int_equal(store_index_parse(&disk, str_data(text), str_len(text), &end), 0);
    assert_int_equal(end, str_len(text));
    assert_int_equal(disk.uidvalidity, st->uidvalidity);
    assert_int_equal(disk.next_uid, RACE_MESSAGES + 1);
    assert_int_equal(disk.highest_modseq, st->highest_modseq);
    assert_int_equal(disk.count, RACE_MESSAGES);
    for (int i = 0; i < RACE_MESSAGES; i++) {
	const store_msg_t *m = &disk.msgs[i];

	snprintf(name, sizeof(name), "%d.M%dP1Q1.race", 1000 + i, i);
	assert_int_equal(m->uid, i + 1);
	assert_string_equal(m->flags, "FSa");
	assert_int_equal(m->size, strlen(name));
	assert_string_equal(m->base, name);
	assert_int_equal(m->modseq, st->msgs[i].modseq);
	assert_true(m->modseq > 1 && m->modseq <= st->highest_modseq && !seen[m->modseq]);
	seen[m->modseq] = 1;
    }
    store_index_clear(&disk);
    str_free(&text);
    free(seen);
    mr_free(path);
}

/* test_race - two processes add flags while a third delivers: no flag is
 * lost, no UID given twice, and the index says so byte by byte */
static void test_race(void **state)
{
    char *box = fx_new_box(), name[64], *path;
    store_t *st = fx_open(box);
    const char *letters[] = {"F", "S", "a"};
    pid_t pids[4];
    int status;
    struct stat sb;

    pids[0] = fork();
    if (pids[0] == 0)
	race_deliver(box);
    for (int i = 0; i < 3; i++)
	if ((pids[i + 1] = fork()) == 0)
	    race_flagger(box, letters[i]);
    for (int i = 0; i < 4; i++) {
	assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    store_close(&st);
    st = fx_open(box);
    assert_int_equal(st->count, RACE_MESSAGES);
    for (int i = 0; i < RACE_MESSAGES; i++) {
	snprintf(name, sizeof(name), "%d.M%dP1Q1.race", 1000 + i, i);
	assert_int_equal(st->msgs[i].uid, i + 1);
	assert_string_equal(st->msgs[i].flags, "FSa");
	path = mr_format("%s/cur/%s:2,FSa", box, name);
	assert_int_equal(stat(path, &sb), 0);
	mr_free(path);
    }
    race_check_index(box, st);
    store_close(&st);
    mr_free(box);
}

#define BIG_BOX 10000

/* test_big_open - a 10,000-message mailbox: the first open reads each
 * file once (no size in its name), every later open none */
static void test_big_open(void **state)
{
    char *box = fx_new_box(), name[64];
    store_t *st = fx_open(box);
    const char *err;
    unsigned long before;

    for (int i = 0; i < BIG_BOX; i++) {
	snprintf(name, sizeof(name), "%d.M%dP1Q1.big", 1000000 + i, i);
	fx_deliver(box, name, "Subject: x\n\nbody\n");
    }
    before = store_message_opens;
    assert_int_equal(store_sync(st, &err), 0);
    assert_int_equal(st->count, BIG_BOX);
    assert_int_equal(store_message_opens - before, BIG_BOX);
    assert_int_equal(st->msgs[BIG_BOX - 1].vsize, 20);
    store_close(&st);
    before = store_message_opens;
    st = fx_open(box);
    assert_int_equal(st->count, BIG_BOX);
    assert_int_equal(st->msgs[BIG_BOX - 1].uid, BIG_BOX);
    assert_int_equal(st->msgs[BIG_BOX - 1].vsize, 20);
    assert_int_equal(store_message_opens - before, 0);
    store_close(&st);
    mr_free(box);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_corrupt_rebuild),
	cmocka_unit_test(test_missing_index),   cmocka_unit_test(test_concurrent),
	cmocka_unit_test(test_stable_uids),     cmocka_unit_test(test_expunge),
	cmocka_unit_test(test_flags_elsewhere), cmocka_unit_test(test_new_user),
	cmocka_unit_test(test_folder_path),     cmocka_unit_test(test_race),
	cmocka_unit_test(test_big_open),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
