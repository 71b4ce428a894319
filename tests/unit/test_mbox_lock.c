/*
 * test_mbox_lock.c - the shared mbox locking (global/mbox_lock.c): the
 * dot-lock with its stale rule, and the rewrite journal in every state a
 * crash can leave it in: none, cut short in step 1, complete with the
 * copy half done, complete with the file already cut, not fitting the
 * file, hostile headers, a link, a FIFO; and a rewrite through a descriptor
 * opened with O_APPEND, as local's is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/mail_params.h"
#include "global/mbox_lock.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define OLD "From a  Mon Jan  5 10:00:00 2026\none\n\nFrom b  Mon\ntwo\n\nFrom c  Mon\nthree\n\n"
#define TAIL "From c  Mon\nthree\n\n" /* the file from "From b" on, without b */
#define B_AT 38                       /* offset of "From b" */

static int seq;

/* setup - a directory with an mbox "box" holding OLD; its descriptor */
static int setup(int *dfd, char **dir)
{
    int fd;

    *dir = mr_format("%s/d%d", unit_tmpdir(), ++seq);
    assert_int_equal(mkdir(*dir, 0700), 0);
    *dfd = open(*dir, O_RDONLY | O_DIRECTORY);
    fd = openat(*dfd, "box", O_RDWR | O_CREAT | O_APPEND, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, OLD, strlen(OLD)), (ssize_t)strlen(OLD));
    var_deliver_lock_attempts = 1;
    var_deliver_lock_delay = 1;
    var_stale_lock_time = 500;
    return fd;
}

/* content - the file's bytes */
static str_t *content(int dfd, const char *name)
{
    return unit_read_fd(openat(dfd, name, O_RDONLY));
}

/* journal - write box.rewrite */
static void journal(int dfd, const char *text, size_t len)
{
    int fd = openat(dfd, "box" MBOX_JOURNAL_SUFFIX, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* assert_box - the mbox holds want */
static void assert_box(int dfd, const char *want)
{
    str_t *s = content(dfd, "box");

    assert_string_equal(str_data(s), want);
    str_free(&s);
}

/* journal_gone - is box.rewrite removed? */
static int journal_gone(int dfd)
{
    struct stat st;

    return fstatat(dfd, "box" MBOX_JOURNAL_SUFFIX, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

/* full_journal - "MRJ1 FROM OLDSIZE LEN\n" + TAIL */
static char *full_journal(void)
{
    return mr_format("MRJ1 %d %zu %zu\n%s", B_AT, strlen(OLD), strlen(TAIL), TAIL);
}

/* test_dotlock - O_EXCL, still locked, a stale lock removed */
static void test_dotlock(void **state)
{
    char *dir;
    int dfd, fd = setup(&dfd, &dir);
    struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};

    assert_int_equal(mbox_dotlock_acquire(dfd, "box"), 0);
    assert_int_equal(mbox_dotlock_acquire(dfd, "box"), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(utimensat(dfd, "box.lock", old, 0), 0);
    assert_int_equal(mbox_dotlock_acquire(dfd, "box"), 0); /* stale: taken over */
    mbox_dotlock_release(dfd, "box");
    assert_int_equal(faccessat(dfd, "box.lock", F_OK, 0), -1);
    assert_int_equal(mbox_lock_fcntl(fd, F_WRLCK), 0);
    assert_int_equal(mbox_lock_fcntl(fd, F_UNLCK), 0);
    close(fd);
    close(dfd);
    mr_free(dir);
}

/* test_dotlock_not_a_lock - an old NAME.lock that is not an empty file
 * (the mailbox of a user whose name ends in ".lock", a link) is never
 * removed as stale: the lock is not taken and the file stays as it was */
static void test_dotlock_not_a_lock(void **state)
{
    static const char mail[] = "From someone@example.org Fri Nov 27 12:00:00 2026\n"
			       "Subject: kept\n\nthe other user's mail\n";
    struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
    char *dir;
    int dfd, fd = setup(&dfd, &dir), other;
    str_t *s;

    other = openat(dfd, "box.lock", O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(other >= 0);
    assert_int_equal(write(other, mail, strlen(mail)), (ssize_t)strlen(mail));
    close(other);
    assert_int_equal(utimensat(dfd, "box.lock", old, 0), 0);
    assert_int_equal(mbox_dotlock_acquire(dfd, "box"), -1);
    assert_int_equal(errno, EEXIST);
    s = content(dfd, "box.lock");
    assert_string_equal(str_data(s), mail);
    str_free(&s);
    assert_int_equal(unlinkat(dfd, "box.lock", 0), 0);
    assert_int_equal(symlinkat("box", dfd, "box.lock"), 0);
    assert_int_equal(utimensat(dfd, "box.lock", old, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(mbox_dotlock_acquire(dfd, "box"), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(unlinkat(dfd, "box.lock", 0), 0);
    close(fd);
    close(dfd);
    mr_free(dir);
}

/* test_spool_name_ok - a user name that is another mbox's dot-lock or
 * journal name has no spool mailbox */
static void test_spool_name_ok(void **state)
{
    assert_int_equal(mbox_spool_name_ok("bob"), 1);
    assert_int_equal(mbox_spool_name_ok("bob.locks"), 1);
    assert_int_equal(mbox_spool_name_ok("bob.lockx"), 1);
    assert_int_equal(mbox_spool_name_ok("lock"), 1);
    assert_int_equal(mbox_spool_name_ok(".lock"), 1);
    assert_int_equal(mbox_spool_name_ok("bob.lock"), 0);
    assert_int_equal(mbox_spool_name_ok("bob.rewrite"), 0);
    assert_int_equal(mbox_spool_name_ok("bob.rewrite.lock"), 0);
    assert_int_equal(mbox_spool_name_ok("a.lock.rewrite"), 0);
}

/* test_rewrite - drop message b through the journal, on an O_APPEND fd */
static void test_rewrite(void **state)
{
    char *dir;
    int dfd, fd = setup(&dfd, &dir);
    mbox_range_t keep[] = {{B_AT + 17, (off_t)strlen(OLD)}};
    const char *err;

    assert_string_equal(OLD + B_AT + 17, TAIL);
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), 0);
    assert_int_equal(mbox_rewrite(dfd, "box", fd, B_AT, keep, 1, &err), 0);
    assert_box(dfd, "From a  Mon Jan  5 10:00:00 2026\none\n\n" TAIL);
    assert_true(journal_gone(dfd));
    assert_int_equal(write(fd, "X\n", 2), 2); /* still appends at the end */
    assert_box(dfd, "From a  Mon Jan  5 10:00:00 2026\none\n\n" TAIL "X\n");
    /* nothing kept: the file ends where the first doomed message began */
    assert_int_equal(mbox_rewrite(dfd, "box", fd, 0, NULL, 0, &err), 0);
    assert_box(dfd, "");
    close(fd);
    close(dfd);
    mr_free(dir);
}

/* test_journal_states - what a crash leaves, finished by the next writer */
static void test_journal_states(void **state)
{
    char *dir, *j = full_journal();
    int dfd, fd = setup(&dfd, &dir);
    const char *err;

    /* cut short in step 1: removed, the file untouched */
    journal(dfd, j, strlen(j) - 3);
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), 0);
    assert_true(journal_gone(dfd));
    assert_box(dfd, OLD);
    /* complete, the copy half done: finished */
    journal(dfd, j, strlen(j));
    {
	int bf = openat(dfd, "box", O_WRONLY); /* without O_APPEND: pwrite writes in place */

	assert_int_equal(pwrite(bf, "From c  M", 9, B_AT), 9);
	close(bf);
    }
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), 1);
    assert_box(dfd, "From a  Mon Jan  5 10:00:00 2026\none\n\n" TAIL);
    assert_true(journal_gone(dfd));
    /* complete, the file already cut: only removed */
    journal(dfd, j, strlen(j));
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), 1);
    assert_true(journal_gone(dfd));
    assert_box(dfd, "From a  Mon Jan  5 10:00:00 2026\none\n\n" TAIL);
    /* fits neither state (something else wrote): left alone, reported */
    assert_int_equal(write(fd, "more\n", 5), 5);
    journal(dfd, j, strlen(j));
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), -1);
    assert_non_null(strstr(err, "does not fit"));
    assert_false(journal_gone(dfd));
    assert_box(dfd, "From a  Mon Jan  5 10:00:00 2026\none\n\n" TAIL "more\n");
    assert_int_equal(unlinkat(dfd, "box" MBOX_JOURNAL_SUFFIX, 0), 0);
    /* a link is never followed, a FIFO never waited for */
    assert_int_equal(symlinkat("box", dfd, "box" MBOX_JOURNAL_SUFFIX), 0);
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), -1);
    assert_int_equal(unlinkat(dfd, "box" MBOX_JOURNAL_SUFFIX, 0), 0);
    assert_int_equal(mkfifoat(dfd, "box" MBOX_JOURNAL_SUFFIX, 0600), 0);
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), -1);
    assert_int_equal(unlinkat(dfd, "box" MBOX_JOURNAL_SUFFIX, 0), 0);
    mr_free(j);
    close(fd);
    close(dfd);
    mr_free(dir);
}

/* test_hostile_headers - a header that does not parse is a journal cut
 * short (removed); numbers that do not fit the file are refused */
static void test_hostile_headers(void **state)
{
    static const char *bad[] = {
	"",
	"MRJ1",
	"MRJ1 1 2 3",
	"MRJ1 -1 74 0\n",
	"MRJ1 1 2 99999999999999999999999\n",
	"MRJ1 +1 2 3\n",
	"MRJ1 1  2 3\n",
	"MRJ2 38 74 19\n",
	"MRJ1 38 74 19 \n",
    };
    char *dir;
    int dfd, fd = setup(&dfd, &dir);
    const char *err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
	journal(dfd, bad[i], strlen(bad[i]));
	assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), 0);
	assert_true(journal_gone(dfd));
	assert_box(dfd, OLD);
    }
    /* well formed, complete, but past the end or growing the file */
    journal(dfd, "MRJ1 70 74 5\nabcde", 18);
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), -1);
    journal(dfd, "MRJ1 0 74 0\n", 12);
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), 1); /* size 74: cut to 0 */
    assert_box(dfd, "");
    journal(dfd, "MRJ1 0 0 0\n", 11);
    assert_int_equal(mbox_journal_finish(dfd, "box", fd, &err), -1);
    assert_int_equal(unlinkat(dfd, "box" MBOX_JOURNAL_SUFFIX, 0), 0);
    close(fd);
    close(dfd);
    mr_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_dotlock),         cmocka_unit_test(test_dotlock_not_a_lock),
	cmocka_unit_test(test_rewrite),         cmocka_unit_test(test_journal_states),
	cmocka_unit_test(test_hostile_headers), cmocka_unit_test(test_spool_name_ok),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
