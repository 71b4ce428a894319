/*
 * test_store_mbox.c - read-only mbox mailboxes: messages split at From_
 * lines, mboxrd unescaping, sizes, flags from Status:, UIDs kept in the
 * index across reopenings, appends and a deletion by another program,
 * and refusal of changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "store/store.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define MSG1                                                                                       \
    "From alice@example.org  Mon Jan  5 10:00:00 2026\n"                                           \
    "Return-Path: <alice@example.org>\nSubject: one\nStatus: RO\n\nbody one\n"                     \
    ">From the start\n>>From deeper\nFrom_ not a separator\n\n"
#define MSG2                                                                                       \
    "From bob@example.org  Mon Jan  5 11:00:00 2026\n"                                             \
    "Subject: two\nX-Status: AF\n\r\nline\r\n\n"
#define MSG3 "From carol@example.org  Mon Jan  5 12:00:00 2026\nSubject: three\n\nlast\n\n"

static int box_seq;

/* write_mbox - replace path's content */
static void write_mbox(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* read_uid - the content store_msg_open gives for uid */
static str_t *read_uid(store_t *st, unsigned long uid)
{
    const char *err;
    int fd = store_msg_open(st, uid, &err);
    str_t *s = str_new(100);
    char buf[256];
    ssize_t n;

    assert_true(fd >= 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
	str_append(s, buf, (size_t)n);
    close(fd);
    return s;
}

/* paths - a fresh mbox path and index directory */
static void paths(char **mbox, char **idx)
{
    box_seq++;
    *mbox = mr_format("%s/mbox%d", unit_tmpdir(), box_seq);
    *idx = mr_format("%s/mbox%d.index", unit_tmpdir(), box_seq);
}

/* test_mbox_read - messages, contents, sizes and flags */
static void test_mbox_read(void **state)
{
    char *mbox, *idx;
    store_t *st = NULL;
    const char *err;
    str_t *s;

    paths(&mbox, &idx);
    write_mbox(mbox, MSG1 MSG2);
    assert_int_equal(store_open_mbox(mbox, idx, &st, &err), 0);
    assert_int_equal(st->count, 2);
    s = read_uid(st, 1);
    assert_string_equal(str_data(s), "Return-Path: <alice@example.org>\nSubject: one\nStatus: "
				     "RO\n\nbody one\nFrom the start\n>From deeper\nFrom_ not a "
				     "separator\n");
    assert_int_equal(st->msgs[0].size, (off_t)str_len(s));
    assert_int_equal(st->msgs[0].vsize, (off_t)str_len(s) + 8);
    assert_string_equal(st->msgs[0].flags, "S");
    str_free(&s);
    s = read_uid(st, 2);
    assert_string_equal(str_data(s), "Subject: two\nX-Status: AF\n\r\nline\r\n");
    assert_int_equal(st->msgs[1].size, (off_t)str_len(s));
    assert_int_equal(st->msgs[1].vsize, (off_t)str_len(s) + 2);
    assert_string_equal(st->msgs[1].flags, "FR");
    str_free(&s);
    store_close(&st);
    mr_free(mbox);
    mr_free(idx);
}

/* test_mbox_uids - UIDs stay across reopenings, appends, and the deletion
 * of the first message by another program; identical messages differ */
static void test_mbox_uids(void **state)
{
    char *mbox, *idx;
    store_t *st = NULL;
    const char *err;
    unsigned long uid = 1, validity;
    str_t *s;

    paths(&mbox, &idx);
    write_mbox(mbox, MSG1 MSG2);
    assert_int_equal(store_open_mbox(mbox, idx, &st, &err), 0);
    validity = st->uidvalidity;
    store_close(&st);
    write_mbox(mbox, MSG1 MSG2 MSG3 MSG3);
    assert_int_equal(store_open_mbox(mbox, idx, &st, &err), 0);
    assert_int_equal(st->uidvalidity, validity);
    assert_int_equal(st->count, 4);
    assert_int_equal(st->msgs[2].uid, 3);
    assert_int_equal(st->msgs[3].uid, 4);
    assert_string_not_equal(st->msgs[2].base, st->msgs[3].base);
    /* another program removes the first message: the file shrinks */
    write_mbox(mbox, MSG2 MSG3 MSG3);
    s = read_uid(st, 2);
    assert_string_equal(str_data(s), "Subject: two\nX-Status: AF\n\r\nline\r\n");
    str_free(&s);
    assert_int_equal(st->count, 3);
    assert_int_equal(st->msgs[0].uid, 2);
    assert_int_equal(store_msg_open(st, 1, &err), -1);
    assert_int_equal(errno, ENOENT);
    s = read_uid(st, 4);
    assert_string_equal(str_data(s), "Subject: three\n\nlast\n");
    str_free(&s);
    assert_int_equal(store_expunge(st, &uid, 1, &err), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(store_change_flags(st, &uid, 1, STORE_FLAGS_ADD, "S", 0, NULL, NULL, &err),
		     -1);
    assert_int_equal(store_keyword(st, "Work", 1, &err), -1);
    store_close(&st);
    mr_free(mbox);
    mr_free(idx);
}

/* test_mbox_odd - an empty file, junk before the first From_, no final
 * empty line */
static void test_mbox_odd(void **state)
{
    char *mbox, *idx;
    store_t *st = NULL;
    const char *err;
    str_t *s;

    paths(&mbox, &idx);
    write_mbox(mbox, "");
    assert_int_equal(store_open_mbox(mbox, idx, &st, &err), 0);
    assert_int_equal(st->count, 0);
    write_mbox(mbox, "junk\n\nFrom x  Mon Jan  5 10:00:00 2026\nA: b\n\nno end");
    assert_int_equal(store_sync(st, &err), 0);
    assert_int_equal(st->count, 1);
    s = read_uid(st, 1);
    assert_string_equal(str_data(s), "A: b\n\nno end");
    assert_int_equal(st->msgs[0].vsize, 14);
    str_free(&s);
    store_close(&st);
    mr_free(mbox);
    mr_free(idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_mbox_read),
	cmocka_unit_test(test_mbox_uids),
	cmocka_unit_test(test_mbox_odd),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
