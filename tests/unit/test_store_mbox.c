/*
 * test_store_mbox.c - read-only mbox mailboxes: messages split at From_
 * lines, mboxrd unescaping, sizes, flags from Status:, UIDs kept in the
 * index across reopenings, appends and a deletion by another program,
 * refusal of flag changes, and deletion (the file rewritten without the
 * messages, what was appended meanwhile kept, UIDs of the others kept,
 * also when another program adds Status: lines).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "store/store.h"
#include "store/store_int.h"
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

    return unit_read_fd(store_msg_open(st, uid, &err));
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
    assert_int_equal(store_expunge(st, &uid, 1, &err), 0); /* gone already */
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

/* read_all - the file's bytes */
static str_t *read_all(const char *path)
{
    return unit_read_fd(open(path, O_RDONLY));
}

/* append_mbox - add text at the end, as a delivery does */
static void append_mbox(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* test_mbox_expunge - deletion rewrites the file without the messages and
 * keeps what was appended since the scan; the others keep their UIDs, also
 * when another program adds Status: lines */
static void test_mbox_expunge(void **state)
{
    char *mbox, *idx;
    store_t *st = NULL;
    const char *err;
    unsigned long two = 2, rest[] = {1, 4};
    str_t *s;

    paths(&mbox, &idx);
    write_mbox(mbox, "junk\n" MSG1 MSG2 MSG3);
    assert_int_equal(store_open_mbox(mbox, idx, &st, &err), 0);
    assert_int_equal(st->count, 3);
    append_mbox(mbox, MSG3); /* delivered during the session */
    assert_int_equal(store_expunge(st, &two, 1, &err), 1);
    s = read_all(mbox);
    assert_string_equal(str_data(s), "junk\n" MSG1 MSG3 MSG3);
    str_free(&s);
    assert_int_equal(st->count, 3);
    assert_int_equal(st->msgs[0].uid, 1);
    assert_int_equal(st->msgs[1].uid, 3);
    assert_int_equal(st->msgs[2].uid, 4);
    /* another program marks message 3 read: it keeps its UID */
    write_mbox(mbox, "junk\n" MSG1
		     "From carol@example.org  Mon Jan  5 12:00:00 2026\nSubject: three\nStatus: "
		     "RO\n\nlast\n\n" MSG3);
    assert_int_equal(store_sync(st, &err), 0);
    assert_int_equal(st->count, 3);
    assert_int_equal(st->msgs[1].uid, 3);
    assert_string_equal(st->msgs[1].flags, "S");
    assert_int_equal(store_expunge(st, rest, 2, &err), 2);
    s = read_all(mbox);
    assert_string_equal(str_data(s), "junk\nFrom carol@example.org  Mon Jan  5 12:00:00 "
				     "2026\nSubject: three\nStatus: RO\n\nlast\n\n");
    str_free(&s);
    assert_int_equal(st->count, 1);
    assert_int_equal(st->msgs[0].uid, 3);
    store_close(&st);
    /* a user who never got mail: no file, no messages */
    assert_int_equal(unlink(mbox), 0);
    assert_int_equal(store_open_mbox(mbox, idx, &st, &err), 0);
    assert_int_equal(st->count, 0);
    store_close(&st);
    mr_free(mbox);
    mr_free(idx);
}

/* unescape_steps - text fed to the unescaper in pieces of step bytes */
static void unescape_steps(const char *text, size_t len, size_t step, str_t *out)
{
    store_unescaper_t u;

    str_reset(out);
    store_unescape_init(&u);
    for (size_t i = 0; i < len; i += step)
	store_unescape_feed(&u, text + i, len - i < step ? len - i : step, out);
    store_unescape_end(&u, out);
}

/* test_mbox_unescape_pieces - quoted From_ lines lose one '>' whatever
 * pieces the text comes in (1, 2, 3, 7 bytes, whole), lines longer than
 * the prefix looked at included, and a last line without LF */
static void test_mbox_unescape_pieces(void **state)
{
    static const size_t steps[] = {1, 2, 3, 7, 1023, 1024, 1025};
    str_t *text = str_new(8192), *want = str_new(8192), *got = str_new(8192);

    str_appends(text, ">From a\n>>From b\nFrom c\n>From\n>Fro\nx>From d\n");
    str_appends(want, "From a\n>From b\nFrom c\n>From\n>Fro\nx>From d\n");
    for (int i = 0; i < 1100; i++)
	str_appends(text, "y"), str_appends(want, "y");
    str_appends(text, ">From e\n");
    str_appends(want, ">From e\n");
    for (int i = 0; i < 1018; i++)
	str_appends(text, ">"), str_appends(want, i ? ">" : "");
    str_appends(text, "From f\n>From g");
    str_appends(want, "From f\nFrom g");
    store_mbox_unescape(str_data(text), str_len(text), got);
    assert_int_equal(str_len(got), str_len(want));
    assert_memory_equal(str_data(got), str_data(want), str_len(want));
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
	unescape_steps(str_data(text), str_len(text), steps[k], got);
	assert_int_equal(str_len(got), str_len(want));
	assert_memory_equal(str_data(got), str_data(want), str_len(want));
    }
    str_free(&text);
    str_free(&want);
    str_free(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_mbox_read),
	cmocka_unit_test(test_mbox_uids),
	cmocka_unit_test(test_mbox_odd),
	cmocka_unit_test(test_mbox_expunge),
	cmocka_unit_test(test_mbox_unescape_pieces),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
