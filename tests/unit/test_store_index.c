/*
 * test_store_index.c - the index file of a mailbox as changes are
 * appended to it: cut at every byte offset it reads as the state before
 * or after each change (or, inside the snapshot, as corrupt and rebuilt);
 * a torn or zero-filled tail is cut off by the next writer; two processes
 * changing flags of different messages both win; modseqs only grow, across
 * sessions and across the rewrites of the whole file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "store_fixture.h"
#include "store/store.h"
#include "util/mymalloc.h"
#include "util/str.h"

static size_t last_snapshot; /* bytes of the snapshot canonical() parsed */

/* canonical - the state text parsed from the first len bytes of text:
 * its snapshot as store_index_format writes it, or NULL when corrupt.
 * *end_r: bytes of whole transactions. mr_alloc'd */
static char *canonical(const char *text, size_t len, size_t *end_r)
{
    store_t st = {0};
    char *copy = mr_memdup(text, len);
    str_t *out = str_new(256);
    char *ret = NULL;

    if (store_index_parse(&st, copy, len, end_r) == 0) {
	store_index_format(&st, out);
	ret = str_steal(&out);
	last_snapshot = st.index_snapshot;
    }
    store_index_clear(&st);
    str_free(&out);
    mr_free(copy);
    return ret;
}

/* index_text - the index file of box */
static str_t *index_text(const char *box)
{
    return fx_slurp(box, STORE_INDEX_NAME);
}

/* change - store_change_flags on one message, which must change it */
static void change(store_t *st, unsigned long uid, store_flags_op_t op, const char *letters)
{
    const char *err;

    if (store_change_flags(st, &uid, 1, op, letters, 0, NULL, NULL, &err) != 1)
	fail_msg("flags of %lu: %s", uid, err);
}

/* put_index - replace box's index with the first len bytes of text, as a
 * new file (what a crash at that point leaves is the same bytes) */
static void put_index(const char *box, const char *text, size_t len)
{
    char *path = mr_format("%s/%s", box, STORE_INDEX_NAME);
    int fd;

    (void)unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    mr_free(path);
}

/* three_steps - a mailbox whose index is a snapshot (no messages: the
 * first open writes it) then a transaction with 4 new messages, a flag
 * change and a transaction with a new message and an expunge; *text_r
 * the whole file, ends[0..3] where each part ends, states[0..3] the state
 * after each */
static char *three_steps(str_t **text_r, size_t ends[4], char *states[4])
{
    char *box = fx_new_box(), name[64];
    store_t *st = fx_open(box);
    unsigned long gone = 2;
    const char *err;
    size_t end;

    for (int i = 0; i < 4; i++) {
	snprintf(name, sizeof(name), "%d.M%dP1Q1.t,S=2", 100 + i, i);
	fx_deliver(box, name, "x\n");
    }
    assert_int_equal(store_sync(st, &err), 0);
    for (int k = 0; k < 3; k++) {
	if (k == 1)
	    change(st, 3, STORE_FLAGS_ADD, "Sa");
	if (k == 2) {
	    fx_deliver(box, "200.M9P1Q1.t,S=2", "y\n");
	    assert_int_equal(store_expunge(st, &gone, 1, &err), 1);
	}
	*text_r = index_text(box);
	ends[k] = str_len(*text_r);
	states[k] = canonical(str_data(*text_r), ends[k], &end);
	assert_non_null(states[k]);
	assert_int_equal(end, ends[k]);
	if (k < 2)
	    str_free(text_r);
    }
    ends[3] = last_snapshot;
    states[3] = canonical(str_data(*text_r), last_snapshot, &end);
    assert_non_null(states[3]);
    store_close(&st);
    return box;
}

/* test_torn_every_offset - the index cut at every byte offset: inside the
 * snapshot corrupt; after it, the state of the last whole transaction */
static void test_torn_every_offset(void **state)
{
    size_t ends[4], end;
    char *states[4];
    str_t *text;
    char *box = three_steps(&text, ends, states);

    assert_true(ends[3] < ends[0] && ends[0] < ends[1] && ends[1] < ends[2]);
    assert_string_not_equal(states[1], states[2]);
    for (size_t k = 0; k <= ends[2]; k++) {
	char *got = canonical(str_data(text), k, &end);

	if (k < ends[3]) {
	    if (got)
		fail_msg("a snapshot cut at %zu of %zu parsed", k, ends[3]);
	    continue;
	}
	int step = k == ends[2] ? 2 : k >= ends[1] ? 1 : k >= ends[0] ? 0 : 3;

	assert_non_null(got);
	assert_string_equal(got, states[step]);
	assert_int_equal(end, ends[step]);
	mr_free(got);
    }
    for (int i = 0; i < 4; i++)
	mr_free(states[i]);
    str_free(&text);
    mr_free(box);
}

/* test_torn_reopen - a mailbox whose index a crash cut inside the last
 * transaction opens with the same UIDVALIDITY and UIDs; the next change
 * cuts the torn bytes off and appends after the last whole transaction;
 * a snapshot cut short is rebuilt */
static void test_torn_reopen(void **state)
{
    size_t ends[4], end;
    char *states[4];
    str_t *text, *after;
    char *box = three_steps(&text, ends, states);
    store_t *st;

    for (size_t k = ends[1]; k < ends[2]; k += 3) {
	char *got;

	put_index(box, str_data(text), k);
	st = fx_open(box);
	assert_false(st->rebuilt);
	/* the sync of the open numbers the new message and forgets the
	 * expunged one again: the torn change never happened */
	assert_int_equal(st->count, 4);
	assert_int_equal(st->msgs[0].uid, 1);
	assert_int_equal(st->msgs[1].uid, 3);
	assert_string_equal(st->msgs[1].flags, "Sa");
	assert_int_equal(st->msgs[3].uid, 5);
	assert_int_equal(st->next_uid, 6);
	change(st, 1, STORE_FLAGS_REPLACE, k % 2 ? "D" : "F");
	store_close(&st);
	after = index_text(box);
	assert_true(str_len(after) > ends[1]);
	assert_memory_equal(str_data(after), str_data(text), ends[1]);
	got = canonical(str_data(after), str_len(after), &end);
	assert_non_null(got);
	assert_int_equal(end, str_len(after));
	mr_free(got);
	str_free(&after);
    }
    put_index(box, str_data(text), ends[3] - 5); /* inside the snapshot */
    st = fx_open(box);
    assert_true(st->rebuilt);
    assert_int_equal(st->count, 4);
    store_close(&st);
    for (int i = 0; i < 4; i++)
	mr_free(states[i]);
    str_free(&text);
    mr_free(box);
}

/* test_torn_zeros - a tail of NUL bytes (blocks allocated, data never
 * written) is a torn change; a bad transaction with a good one after it
 * is corruption */
static void test_torn_zeros(void **state)
{
    size_t ends[4], end;
    char *states[4], *got;
    str_t *text, *bad;
    char *box = three_steps(&text, ends, states);
    store_t *st;

    bad = str_new(ends[2] + 64);
    str_append(bad, str_data(text), ends[1]);
    for (int i = 0; i < 40; i++)
	str_appendc(bad, 0);
    got = canonical(str_data(bad), str_len(bad), &end);
    assert_non_null(got);
    assert_string_equal(got, states[1]);
    assert_int_equal(end, ends[1]);
    mr_free(got);
    put_index(box, str_data(bad), str_len(bad));
    st = fx_open(box);
    assert_false(st->rebuilt);
    store_close(&st);
    /* one byte of the middle transaction changed, the last one whole */
    str_reset(bad);
    str_append(bad, str_data(text), ends[2]);
    str_data(bad)[ends[0] + 2] ^= 1; /* the uid of the flag change */
    assert_null(canonical(str_data(bad), str_len(bad), &end));
    put_index(box, str_data(bad), str_len(bad));
    st = fx_open(box);
    assert_true(st->rebuilt);
    store_close(&st);
    for (int i = 0; i < 4; i++)
	mr_free(states[i]);
    str_free(&bad);
    str_free(&text);
    mr_free(box);
}

#define WRITER_MESSAGES 120

/* writer - change the flags of every other message (start 0 or 1) one by
 * one through its own session: add letter, remove it, add it again */
static void writer(const char *box, int start, const char *letter)
{
    store_t *st = NULL;
    const char *err;
    store_flags_op_t ops[] = {STORE_FLAGS_ADD, STORE_FLAGS_REMOVE, STORE_FLAGS_ADD};

    if (store_open(box, &st, &err) < 0)
	_exit(1);
    for (int round = 0; round < 3; round++)
	for (unsigned long uid = 1 + start; uid <= WRITER_MESSAGES; uid += 2)
	    if (store_change_flags(st, &uid, 1, ops[round], letter, 0, NULL, NULL, &err) != 1)
		_exit(2);
    store_close(&st);
    _exit(0);
}

/* test_two_writers - two processes change flags of different messages at
 * once: every change of both is in the index and in the file names, each
 * with its own modseq */
static void test_two_writers(void **state)
{
    char *box = fx_new_box(), name[64];
    store_t *st = fx_open(box);
    const char *err;
    pid_t pids[2];
    int status;
    unsigned long long before;
    size_t end;
    str_t *text;
    char *got;

    for (int i = 0; i < WRITER_MESSAGES; i++) {
	snprintf(name, sizeof(name), "%d.M%dP1Q1.w,S=2", 1000 + i, i);
	fx_deliver(box, name, "w\n");
    }
    assert_int_equal(store_sync(st, &err), 0);
    before = st->highest_modseq;
    store_index_log_min = 1024; /* the whole file is written again now and then */
    if ((pids[0] = fork()) == 0)
	writer(box, 0, "S");
    if ((pids[1] = fork()) == 0)
	writer(box, 1, "F");
    for (int i = 0; i < 2; i++) {
	assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(store_sync(st, &err), 0);
    assert_int_equal(st->highest_modseq, before + 3 * WRITER_MESSAGES);
    for (int i = 0; i < WRITER_MESSAGES; i++) {
	const store_msg_t *m = &st->msgs[i];

	snprintf(name, sizeof(name), "%d.M%dP1Q1.w,S=2", 1000 + i, i);
	char *file;

	assert_string_equal(m->flags, i % 2 ? "F" : "S");
	file = mr_format("%s:2,%s", name, m->flags);
	assert_true(fx_exists(box, "cur", file));
	mr_free(file);
	for (int j = 0; j < i; j++)
	    assert_true(st->msgs[j].modseq != m->modseq);
    }
    text = index_text(box);
    got = canonical(str_data(text), str_len(text), &end);
    assert_non_null(got);
    assert_int_equal(end, str_len(text));
    mr_free(got);
    str_free(&text);
    store_close(&st);
    store_index_log_min = 65536;
    mr_free(box);
}

/* test_modseq_grows - two sessions take turns changing flags, through
 * several rewrites of the whole file: HIGHESTMODSEQ grows by one at each
 * change, as either session and a new one see it */
static void test_modseq_grows(void **state)
{
    char *box = fx_new_box();
    store_t *a = fx_open(box), *b, *c;
    const char *err;
    unsigned long long high;
    struct stat sb;
    char *path = mr_format("%s/%s", box, STORE_INDEX_NAME);
    ino_t first_ino;
    int rewrites = 0;

    fx_deliver(box, "100.M1P1Q1.m,S=2", "1\n");
    fx_deliver(box, "101.M1P1Q2.m,S=2", "2\n");
    assert_int_equal(store_sync(a, &err), 0);
    b = fx_open(box);
    high = b->highest_modseq;
    assert_int_equal(stat(path, &sb), 0);
    first_ino = sb.st_ino;
    store_index_log_min = 2048;
    for (int i = 0; i < 800; i++) {
	store_t *who = i % 3 ? a : b;
	unsigned long uid = 1 + (unsigned long)(i % 2);

	change(who, uid, i % 4 < 2 ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE, "S");
	if (who->highest_modseq != high + 1)
	    fail_msg("change %d: highest modseq %llu after %llu", i, who->highest_modseq, high);
	high = who->highest_modseq;
	assert_int_equal(who->msgs[uid - 1].modseq, high);
	assert_int_equal(stat(path, &sb), 0);
	if (sb.st_ino != first_ino) {
	    rewrites++;
	    first_ino = sb.st_ino;
	}
    }
    assert_true(rewrites >= 5);
    assert_int_equal(store_sync(a, &err), 0);
    assert_int_equal(store_sync(b, &err), 0);
    c = fx_open(box);
    assert_int_equal(a->highest_modseq, high);
    assert_int_equal(b->highest_modseq, high);
    assert_int_equal(c->highest_modseq, high);
    assert_false(c->rebuilt);
    store_close(&a);
    store_close(&b);
    store_close(&c);
    store_index_log_min = 65536;
    mr_free(path);
    mr_free(box);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_torn_every_offset), cmocka_unit_test(test_torn_reopen),
	cmocka_unit_test(test_torn_zeros),        cmocka_unit_test(test_two_writers),
	cmocka_unit_test(test_modseq_grows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
