/*
 * test_store_quota.c - the SPECIAL-USE folders made at a user's first
 * open, and the Maildir++ quota file: appended to on delivery and
 * expunge (in any folder), recalculated when missing, stale or made for
 * other limits.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "store_fixture.h"
#include "global/mail_params.h"
#include "store/store.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* is_dir - is box/name a directory? */
static int is_dir(const char *box, const char *name)
{
    char *path = mr_format("%s/%s", box, name);
    struct stat sb;
    int r = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);

    mr_free(path);
    return r;
}

/* assert_file - box/name holds exactly text */
static void assert_file(const char *box, const char *name, const char *text)
{
    str_t *s = fx_slurp(box, name);

    assert_string_equal(str_data(s), text);
    str_free(&s);
}

/* remove_folder - delete an empty Maildir++ folder */
static void remove_folder(const char *box, const char *name)
{
    const char *parts[] = {"tmp", "new", "cur", "maildirfolder", ""};

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
	char *path = mr_format("%s/%s/%s", box, name, parts[i]);

	assert_int_equal(remove(path), 0);
	mr_free(path);
    }
}

/* test_special_new - a new user gets the four folders, subscribed and
 * recorded; a second open makes nothing again */
static void test_special_new(void **state)
{
    const char *names[] = {".Drafts", ".Sent", ".Junk", ".Trash"};
    char *box = fx_new_box(), *attr, *path;
    store_t *st = fx_open(box);
    struct stat sb;

    for (int i = 0; i < 4; i++) {
	char *cur = mr_format("%s/cur", names[i]), *mark = mr_format("%s/maildirfolder", names[i]);

	assert_true(is_dir(box, cur));
	path = mr_format("%s/%s", box, mark);
	assert_int_equal(stat(path, &sb), 0);
	mr_free(path);
	mr_free(cur);
	mr_free(mark);
    }
    assert_file(box, "subscriptions", "Drafts\nSent\nJunk\nTrash\n");
    assert_file(box, "mailroom.special-use",
		"\\Drafts Drafts\n\\Sent Sent\n\\Junk Junk\n\\Trash Trash\n");
    attr = store_special_use(box, "Sent");
    assert_string_equal(attr, "\\Sent");
    mr_free(attr);
    assert_null(store_special_use(box, "INBOX"));
    store_close(&st);
    remove_folder(box, ".Junk"); /* the user deleted it */
    st = fx_open(box);
    assert_false(is_dir(box, ".Junk"));
    store_close(&st);
    mr_free(box);
}

/* test_special_existing - folders another client made under a usual name
 * get the attribute; subscriptions are not doubled */
static void test_special_existing(void **state)
{
    char *box = fx_new_box(), *path, *attr;
    store_t *st;

    assert_int_equal(mkdir(box, 0700), 0);
    path = mr_format("%s/.Sent Items", box);
    assert_int_equal(mkdir(path, 0700), 0);
    mr_free(path);
    path = mr_format("%s/.Spam", box);
    assert_int_equal(mkdir(path, 0700), 0);
    mr_free(path);
    fx_put(box, ".", "subscriptions", "Sent Items\nWork");
    st = fx_open(box);
    assert_false(is_dir(box, ".Sent"));
    assert_false(is_dir(box, ".Junk"));
    assert_true(is_dir(box, ".Spam/cur"));
    assert_file(box, "subscriptions", "Sent Items\nWork\nDrafts\nSpam\nTrash\n");
    attr = store_special_use(box, "Sent Items");
    assert_string_equal(attr, "\\Sent");
    mr_free(attr);
    attr = store_special_use(box, "Spam");
    assert_string_equal(attr, "\\Junk");
    mr_free(attr);
    store_close(&st);
    mr_free(box);
}

/* test_quota_updates - every sync that numbers or forgets messages, in
 * the Maildir or a folder, appends its change */
static void test_quota_updates(void **state)
{
    char *box = fx_new_box(), *work = mr_format("%s/.Work", box);
    store_t *st = fx_open(box), *wf;
    const char *err;
    unsigned long uid = 1;
    store_quota_t q;

    assert_file(box, "maildirsize", "0S,0C\n0 0\n");
    fx_deliver(box, "100.M1P1Q1.h", "0123456789");
    fx_deliver(box, "101.M1P1Q2.h", "01234567890123456789");
    assert_int_equal(store_sync(st, &err), 0);
    assert_file(box, "maildirsize", "0S,0C\n0 0\n30 2\n");
    assert_int_equal(store_expunge(st, &uid, 1, &err), 1);
    assert_file(box, "maildirsize", "0S,0C\n0 0\n30 2\n-10 -1\n");
    /* a new folder's first index is a rebuild: the file is made again */
    wf = fx_open(work);
    assert_false(is_dir(work, ".Sent")); /* a folder gets no folders */
    assert_file(box, "maildirsize", "0S,0C\n20 1\n");
    fx_deliver(work, "102.M1P1Q3.h", "abcde");
    assert_int_equal(store_sync(wf, &err), 0);
    assert_file(box, "maildirsize", "0S,0C\n20 1\n5 1\n");
    assert_int_equal(store_quota(st, &q, &err), 0);
    assert_int_equal(q.bytes, 25);
    assert_int_equal(q.count, 2);
    assert_int_equal(q.limit_bytes, 0);
    /* limits from the configuration: the file is made again for them */
    var_mailbox_quota = 1000000;
    var_mailbox_quota_messages = 50;
    assert_int_equal(store_quota(wf, &q, &err), 0);
    assert_file(box, "maildirsize", "1000000S,50C\n25 2\n");
    assert_int_equal(q.limit_bytes, 1000000);
    assert_int_equal(q.limit_count, 50);
    var_mailbox_quota = 0;
    var_mailbox_quota_messages = 0;
    /* none configured: the file's own limits stay (as Dovecot does) */
    fx_deliver(box, "103.M1P1Q4.h", "x");
    assert_int_equal(store_sync(st, &err), 0);
    assert_file(box, "maildirsize", "1000000S,50C\n25 2\n1 1\n");
    store_close(&wf);
    store_close(&st);
    mr_free(work);
    mr_free(box);
}

/* test_quota_recalc - a missing, damaged, negative or overgrown file is
 * made again from the indexes */
static void test_quota_recalc(void **state)
{
    const char *bad[] = {"", "garbage\n", "0S,0C\n5 1\n-100 -3\n", "0S,0C\n5 x\n", "0S,0C\n5 1"};
    char *box = fx_new_box(), *big;
    store_t *st = fx_open(box);
    const char *err;
    store_quota_t q;
    str_t *s = str_new(8000);

    fx_deliver(box, "100.M1P1Q1.h", "0123456789");
    assert_int_equal(store_sync(st, &err), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
	fx_put(box, ".", "maildirsize", bad[i]);
	assert_int_equal(store_quota(st, &q, &err), 0);
	assert_int_equal(q.bytes, 10);
	assert_int_equal(q.count, 1);
	assert_file(box, "maildirsize", "0S,0C\n10 1\n");
    }
    str_set(s, "0S,0C\n");
    while (str_len(s) <= 5120)
	str_appends(s, "1 0\n-1 0\n");
    fx_put(box, ".", "maildirsize", str_data(s));
    fx_deliver(box, "101.M1P1Q2.h", "01234");
    assert_int_equal(store_sync(st, &err), 0); /* too big: recalculated, not appended */
    assert_file(box, "maildirsize", "0S,0C\n15 2\n");
    big = mr_format("%s/maildirsize", box);
    assert_int_equal(unlink(big), 0);
    assert_int_equal(store_quota(st, &q, &err), 0);
    assert_int_equal(q.bytes, 15);
    mr_free(big);
    str_free(&s);
    store_close(&st);
    mr_free(box);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_special_new),
	cmocka_unit_test(test_special_existing),
	cmocka_unit_test(test_quota_updates),
	cmocka_unit_test(test_quota_recalc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
