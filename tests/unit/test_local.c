/*
 * test_local.c - the local delivery agent's modules on messages held in
 * memory: Maildir names and commit, Delivered-To loop detection, .forward
 * rules, destination lists, mbox format and locking, command exit codes
 * and environment, and whole recipients through aliases, :include:,
 * +extensions and virtual mailboxes. Deliveries really fork and write
 * files under a temporary folder; as root they run as "nobody".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "global/mail_params.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "../../local/local.h"

/* A message in memory: NULL-terminated lines. */
typedef struct mem_msg {
    const char **lines;
    size_t pos;
} mem_msg_t;

/* mem_line - next line */
static int mem_line(void *ctx, str_t *line, int *complete_r, const char **error_r)
{
    mem_msg_t *m = ctx;

    if (m->lines[m->pos] == NULL)
	return 0;
    str_set(line, m->lines[m->pos++]);
    *complete_r = 1;
    return 1;
}

/* mem_rewind - start again */
static void mem_rewind(void *ctx)
{
    ((mem_msg_t *)ctx)->pos = 0;
}

static const char *plain_lines[] = {
    "Received: from x", "Subject: hi", "", "From the start", ">From quoted", "body", NULL,
};
static const char *plain_text =
    "Received: from x\nSubject: hi\n\nFrom the start\n>From quoted\nbody\n";

/* mem_msg - a local_msg_t over lines */
static local_msg_t mem_msg(mem_msg_t *m, const char **lines)
{
    local_msg_t msg = {"QID", "sender@example.com", 0, mem_line, mem_rewind, m};

    m->lines = lines;
    m->pos = 0;
    return msg;
}

/* path_in - a path in the test folder (static storage, 4 slots) */
static const char *path_in(const char *fmt, const char *arg)
{
    static char buf[4][600];
    static int n;
    char rel[300];

    snprintf(rel, sizeof(rel), fmt, arg);
    n = (n + 1) % 4;
    snprintf(buf[n], sizeof(buf[n]), "%s/%s", unit_tmpdir(), rel);
    return buf[n];
}

/* slurp - a whole file, or NULL */
static char *slurp(const char *path)
{
    str_t *s = str_new(1024);
    char buf[4096];
    ssize_t n;
    int fd = open(path, O_RDONLY);

    if (fd < 0) {
	str_free(&s);
	return NULL;
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0)
	str_append(s, buf, (size_t)n);
    close(fd);
    return str_steal(&s);
}

/* only_file - the name of the single file in dir (NULL if not exactly one) */
static char *only_file(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *name = NULL;
    int count = 0;

    if (d == NULL)
	return NULL;
    while ((e = readdir(d)) != NULL)
	if (e->d_name[0] != '.') {
	    count++;
	    mr_free(name);
	    name = mr_strdup(e->d_name);
	}
    closedir(d);
    if (count != 1) {
	mr_free(name);
	return NULL;
    }
    return name;
}

/* maildir_message - content of the one message in DIR/new */
static char *maildir_message(const char *dir)
{
    char *sub = mr_format("%s/new", dir);
    char *name = only_file(sub);
    char *path, *text;

    if (name == NULL) {
	mr_free(sub);
	return NULL;
    }
    path = mr_format("%s/%s", sub, name);
    text = slurp(path);
    mr_free(path);
    mr_free(name);
    mr_free(sub);
    return text;
}

/* run_as - the uid deliveries run as in these tests */
static struct passwd *test_user(void)
{
    return getuid() == 0 ? getpwnam("nobody") : getpwuid(getuid());
}

/* setup_config - a mailroom.conf for the whole-recipient tests */
static void setup_config(const char *extra)
{
    struct passwd *pw = test_user();
    const char *error;
    char *text;

    if (chmod(unit_tmpdir(), 0755) < 0 || mkdir(path_in("mail", ""), 0755) < 0)
	fail_msg("mkdir: %s", strerror(errno));
    if (getuid() == 0 && chown(path_in("mail", ""), pw->pw_uid, pw->pw_gid) < 0)
	fail_msg("chown: %s", strerror(errno));
    text = mr_format("team: alice@v.test, bob@v.test\n"
		     "pipe: |echo \"$SENDER $RECIPIENT $LOCAL $EXTENSION $DOMAIN\" > %s/mail/env\n"
		     "file: %s/mail/file.mbox\n"
		     "inc: :include:%s/inc.list\n"
		     "deep: deep\n"
		     "fwd: bob@v.test, someone@remote.test\n",
		     unit_tmpdir(), unit_tmpdir(), unit_tmpdir());
    unit_write_file("aliases", text);
    mr_free(text);
    unit_write_file("vmailbox", "alice@v.test v.test/alice/\nbob@v.test v.test/bob/\n"
				"carol@v.test v.test/carol.mbox\n");
    unit_write_file("inc.list", "# a comment\nbob@v.test\n");
    text = mr_format("alias_maps = texthash:%s/aliases\n"
		     "virtual_mailbox_domains = v.test\n"
		     "virtual_mailbox_maps = texthash:%s/vmailbox\n"
		     "virtual_mailbox_base = %s/mail\n"
		     "virtual_uid = %ld\nvirtual_gid = %ld\nvirtual_minimum_uid = 1\n"
		     "mydestination = l.test\nmail_owner = %s\ndefault_privs = %s\n"
		     "deliver_lock_attempts = 2\ndeliver_lock_delay = 1s\n"
		     "command_time_limit = 5s\nmaillog_file = %s/log\n%s",
		     unit_tmpdir(), unit_tmpdir(), unit_tmpdir(), (long)pw->pw_uid,
		     (long)pw->pw_gid, pw->pw_name, pw->pw_name, unit_tmpdir(), extra);
    unit_write_file(CONFIG_FILE, text);
    mr_free(text);
    if (config_load(unit_tmpdir(), &error) < 0 || config_fill(&error) < 0)
	fail_msg("config: %s", error);
    msg_target(path_in("log", ""));
}

/* test_maildir_name - the unique name, host escapes */
static void test_maildir_name(void **state)
{
    str_t *s = str_new(100);

    maildir_name(s, 1700000000, 42, 123, 7, "mx.example");
    assert_string_equal(str_data(s), "1700000000.M000042P123Q7.mx.example");
    maildir_name(s, 5, 999999, 1, 0, "a/b:c");
    assert_string_equal(str_data(s), "5.M999999P1Q0.a\\057b\\072c");
    str_free(&s);
}

/* test_maildir_deliver - tmp/ -> new/, name with size, exact bytes */
static void test_maildir_deliver(void **state)
{
    mem_msg_t m;
    local_msg_t msg = mem_msg(&m, plain_lines);
    local_result_t r;
    const char *dir = path_in("md/user/Maildir/", "");
    char *text, *name, *want;
    struct stat st;

    maildir_deliver(dir, &msg, "rcpt@example.com", &r);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_string_equal(r.dsn, "2.0.0");
    assert_string_equal(r.text, "delivered to maildir");
    want = mr_format("Return-Path: <sender@example.com>\nDelivered-To: rcpt@example.com\n%s",
		     plain_text);
    text = maildir_message(dir);
    assert_non_null(text);
    assert_string_equal(text, want);
    name = only_file(path_in("md/user/Maildir/new", ""));
    assert_non_null(strstr(name, ".M"));
    mr_free(text);
    text = mr_format(",S=%zu", strlen(want));
    assert_non_null(strstr(name, text));
    assert_null(only_file(path_in("md/user/Maildir/tmp", "")));
    assert_int_equal(stat(path_in("md/user/Maildir/cur", ""), &st), 0);
    /* a second delivery gets a different name */
    maildir_seq++;
    maildir_deliver(dir, &msg, "rcpt@example.com", &r);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_null(only_file(path_in("md/user/Maildir/new", "")));
    mr_free(text);
    mr_free(name);
    mr_free(want);
}

/* test_maildir_deliver_held - the file is in new/ and new/ comes back
 * open for the caller's fsync; a missing tmp/ is made again */
static void test_maildir_deliver_held(void **state)
{
    mem_msg_t m;
    local_msg_t msg = mem_msg(&m, plain_lines);
    local_result_t r;
    char *dir = mr_strdup(path_in("md/held/Maildir/", "")); /* path_in's slots rotate */
    char *name;
    struct stat st, nst;
    int newfd;

    maildir_deliver_held(dir, &msg, "rcpt@example.com", &newfd, &r);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_true(newfd >= 0);
    assert_int_equal(fstat(newfd, &st), 0);
    assert_int_equal(stat(path_in("md/held/Maildir/new", ""), &nst), 0);
    assert_true(st.st_ino == nst.st_ino && st.st_dev == nst.st_dev);
    assert_int_equal(fsync(newfd), 0);
    close(newfd);
    name = only_file(path_in("md/held/Maildir/new", ""));
    assert_non_null(name);
    mr_free(name);
    /* tmp/ removed by hand: the next delivery makes it again */
    assert_int_equal(rmdir(path_in("md/held/Maildir/tmp", "")), 0);
    maildir_seq++;
    maildir_deliver_held(dir, &msg, "rcpt@example.com", &newfd, &r);
    assert_int_equal(r.status, LOCAL_SENT);
    close(newfd);
    assert_int_equal(stat(path_in("md/held/Maildir/tmp", ""), &st), 0);
    /* a file where tmp/ should be: deferred, nothing open */
    assert_int_equal(rmdir(path_in("md/held/Maildir/tmp", "")), 0);
    newfd = open(path_in("md/held/Maildir/tmp", ""), O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(newfd >= 0);
    close(newfd);
    maildir_deliver_held(dir, &msg, "rcpt@example.com", &newfd, &r);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_int_equal(newfd, -1);
    mr_free(dir);
}

/* test_body - the content read once into memory gives the same copy,
 * a line longer than a piece comes back in pieces, too much is refused */
static void test_body(void **state)
{
    char *big = mr_calloc(1, LOCAL_BODY_PIECE + 101);
    const char *lines[] = {"Subject: s", "", big, "end", NULL};
    mem_msg_t m;
    local_msg_t msg = mem_msg(&m, lines), mem;
    local_body_t b;
    const char *err;
    str_t *line = str_new(16);
    char *want, *got;
    int complete, fd;

    memset(big, 'x', LOCAL_BODY_PIECE + 100);
    big[LOCAL_BODY_PIECE + 100] = 0;
    assert_int_equal(local_body_load(&b, &msg, LOCAL_BODY_MAX, &err), 1);
    want = mr_format("Subject: s\n\n%s\nend\n", big);
    assert_int_equal(str_len(b.text), strlen(want));
    assert_memory_equal(str_data(b.text), want, strlen(want));
    /* pieces: the long line in two, the first not complete */
    assert_int_equal(local_body_line(&b, line, &complete, &err), 1);
    assert_string_equal(str_data(line), "Subject: s");
    assert_int_equal(complete, 1);
    assert_int_equal(local_body_line(&b, line, &complete, &err), 1);
    assert_int_equal(str_len(line), 0);
    assert_int_equal(local_body_line(&b, line, &complete, &err), 1);
    assert_int_equal(str_len(line), LOCAL_BODY_PIECE);
    assert_int_equal(complete, 0);
    assert_int_equal(local_body_line(&b, line, &complete, &err), 1);
    assert_int_equal(str_len(line), 100);
    assert_int_equal(complete, 1);
    assert_int_equal(local_body_line(&b, line, &complete, &err), 1);
    assert_int_equal(local_body_line(&b, line, &complete, &err), 0);
    /* written from memory: the same bytes as from the lines */
    mem = msg;
    mem.line = local_body_line;
    mem.rewind = local_body_rewind;
    mem.ctx = &b;
    fd = open(path_in("body.out", ""), O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(local_msg_write(fd, &mem, "r@example.com", 0, &err),
		     (long long)strlen(want) + 62);
    close(fd);
    got = slurp(path_in("body.out", ""));
    assert_non_null(got);
    assert_string_equal(got + 62, want);
    mr_free(got);
    str_free(&b.text);
    /* one byte over the limit: not loaded */
    assert_int_equal(local_body_load(&b, &msg, strlen(want) - 1, &err), 0);
    str_free(&b.text);
    assert_int_equal(local_body_load(&b, &msg, strlen(want), &err), 1);
    str_free(&b.text);
    str_free(&line);
    mr_free(want);
    mr_free(big);
}

/* loop_check - local_msg_loop on some lines */
static int loop_check(const char **lines, const char *rcpt)
{
    mem_msg_t m;
    local_msg_t msg = mem_msg(&m, lines);
    const char *err;

    return local_msg_loop(&msg, rcpt, &err);
}

/* test_loop - Delivered-To in the header only, any case, exact address */
static void test_loop(void **state)
{
    const char *hdr[] = {"Received: x", " continued", "DELIVERED-TO:  Alice@Example.COM ",
			 "Subject: s",  "",           "body",
			 NULL};
    const char *body[] = {"Subject: s", "", "Delivered-To: alice@example.com", NULL};
    const char *other[] = {"Delivered-To: bob@example.com", "X-Delivered-To: alice@example.com", "",
			   NULL};
    const char *nohdr[] = {"not a header", "Delivered-To: alice@example.com", NULL};

    assert_int_equal(loop_check(hdr, "alice@example.com"), 1);
    assert_int_equal(loop_check(body, "alice@example.com"), 0);
    assert_int_equal(loop_check(other, "alice@example.com"), 0);
    assert_int_equal(loop_check(other, "bob@example.com"), 1);
    assert_int_equal(loop_check(nohdr, "alice@example.com"), 0);
    assert_int_equal(loop_check(hdr, "alice@example.co"), 0);
}

/* forward_fd - open a file with this mode for forward_check */
static int forward_fd(const char *name, mode_t mode)
{
    const char *path = unit_write_file(name, "x@example.com\n");
    int fd;

    chmod(path, mode);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

/* test_forward_check - owner and mode rules */
static void test_forward_check(void **state)
{
    uid_t me = getuid();
    int fd;

    fd = forward_fd("fw1", 0644);
    assert_null(forward_check(fd, me));
    close(fd);
    fd = forward_fd("fw2", 0664);
    assert_string_equal(forward_check(fd, me), "writable by group or others");
    close(fd);
    fd = forward_fd("fw3", 0602);
    assert_string_equal(forward_check(fd, me), "writable by group or others");
    close(fd);
    fd = forward_fd("fw4", 0600);
    assert_int_equal(link(path_in("fw4", ""), path_in("fw4-link", "")), 0);
    assert_string_equal(forward_check(fd, me), "more than one hard link");
    close(fd);
    fd = forward_fd("fw5", 0600);
    if (me == 0) /* root's own files are always accepted */
	assert_int_equal(fchown(fd, 12345, 12345), 0);
    assert_string_equal(forward_check(fd, 54321), "not owned by the user");
    close(fd);
}

/* test_forward_read - .forward+ext first, a refused file is skipped */
static void test_forward_read(void **state)
{
    const char *home = path_in("home", "");
    local_result_t r;
    str_t *data = str_new(100);
    char *p;

    mkdir(home, 0755);
    forward_read(home, getuid(), "", data, &r);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_int_equal(str_len(data), 0);
    close(forward_fd("home/.forward", 0600));
    close(forward_fd("home/.forward+lists", 0600));
    p = (char *)path_in("home/.forward+lists", "");
    unit_write_file("home/.forward+lists", "lists@example.com\n");
    forward_read(home, getuid(), "lists", data, &r);
    assert_string_equal(str_data(data), "lists@example.com\n");
    forward_read(home, getuid(), "other", data, &r);
    assert_string_equal(str_data(data), "x@example.com\n");
    chmod(p, 0666);
    forward_read(home, getuid(), "lists", data, &r);
    assert_string_equal(str_data(data), "x@example.com\n");
    /* a symbolic link is never followed */
    unlink(path_in("home/.forward", ""));
    assert_int_equal(symlink(p, path_in("home/.forward", "")), 0);
    forward_read(home, getuid(), "", data, &r);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_int_equal(str_len(data), 0);
    str_free(&data);
}

/* expand_all - "TYPE:dest|" for every destination of a list */
static char *expand_all(const char *list)
{
    str_t *out = str_new(100), *dest = str_new(100);
    int type;

    while ((type = expand_next(&list, dest)) != 0)
	str_appendf(out, "%d:%s|", type, str_data(dest));
    str_free(&dest);
    return str_steal(&out);
}

/* check_expand - expand_all(list) is want */
static void check_expand(const char *list, const char *want)
{
    char *got = expand_all(list);

    assert_string_equal(got, want);
    mr_free(got);
}

/* test_expand - destination lists */
static void test_expand(void **state)
{
    check_expand("a, b@x.test,c", "1:a|1:b@x.test|1:c|");
    check_expand("# comment, x\n  a\n\n#another\nb c", "1:a|1:b|1:c|");
    check_expand("|/usr/bin/prog -a x, \\alice", "3:/usr/bin/prog -a x|2:alice|");
    check_expand("\"|cmd a, b\", |\"cmd2 c, d\"", "3:cmd a, b|3:cmd2 c, d|");
    check_expand("/var/log/mail, /home/a/Maildir/, :include:/etc/list",
		 "4:/var/log/mail|4:/home/a/Maildir/|5:/etc/list|");
    check_expand("<x@y.test>, \"quoted user\"", "1:x@y.test|1:quoted user|");
    check_expand("", "");
    check_expand(" , ,\n", "");
}

/* test_mbox - From_ lines, >From quoting, blank line, two messages */
static void test_mbox(void **state)
{
    mem_msg_t m;
    local_msg_t msg = mem_msg(&m, plain_lines);
    local_result_t r;
    const char *path = path_in("box.mbox", "");
    char *text;

    mbox_deliver_file(path, &msg, "r@example.com", &r);
    assert_int_equal(r.status, LOCAL_SENT);
    mbox_deliver_file(path, &msg, "r@example.com", &r);
    assert_int_equal(r.status, LOCAL_SENT);
    text = slurp(path);
    assert_int_equal(strncmp(text, "From sender@example.com  ", 25), 0);
    assert_non_null(strstr(text, "\nReturn-Path: <sender@example.com>\nDelivered-To: "
				 "r@example.com\nReceived: from x\nSubject: hi\n\n>From the start\n"
				 ">>From quoted\nbody\n\nFrom sender@example.com  "));
    assert_int_equal(strcmp(text + strlen(text) - 7, "\nbody\n\n"), 0);
    mr_free(text);
    /* a symbolic link is refused */
    assert_int_equal(symlink(path, path_in("link.mbox", "")), 0);
    mbox_deliver_file(path_in("link.mbox", ""), &msg, "r@example.com", &r);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    assert_string_equal(r.dsn, "5.2.0");
}

/* test_mbox_locked - another process holds the fcntl lock or a dot-lock */
static void test_mbox_locked(void **state)
{
    mem_msg_t m;
    local_msg_t msg = mem_msg(&m, plain_lines);
    local_result_t r;
    const char *path = path_in("locked.mbox", "");
    int fd = open(path, O_RDWR | O_CREAT, 0600), sync[2];
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    struct timespec old[2] = {{0, 0}, {0, 0}};
    pid_t pid;
    char c;

    assert_int_equal(pipe(sync), 0);
    if ((pid = fork()) == 0) { /* holds the lock for 5 seconds */
	if (fcntl(fd, F_SETLK, &fl) < 0 || write(sync[1], "x", 1) != 1)
	    _exit(1);
	sleep(5);
	_exit(0);
    }
    assert_int_equal(read(sync[0], &c, 1), 1);
    mbox_deliver_file(path, &msg, "r@example.com", &r);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_string_equal(r.dsn, "4.2.0");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(lseek(fd, 0, SEEK_END), 0); /* nothing written */
    /* a fresh dot-lock defers; a stale one is removed */
    close(open(path_in("locked.mbox.lock", ""), O_CREAT | O_WRONLY, 0600));
    mbox_deliver_file(path, &msg, "r@example.com", &r);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_int_equal(utimensat(AT_FDCWD, path_in("locked.mbox.lock", ""), old, 0), 0);
    mbox_deliver_file(path, &msg, "r@example.com", &r);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_int_equal(access(path_in("locked.mbox.lock", ""), F_OK), -1);
    close(fd);
    close(sync[0]);
    close(sync[1]);
}

/* test_pipe_exit - wait status to DSN */
static void test_pipe_exit(void **state)
{
    local_result_t r;

    pipe_exit_result(0, "", &r);
    assert_int_equal(r.status, LOCAL_SENT);
    pipe_exit_result(75 << 8, "try later", &r);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_string_equal(r.dsn, "4.3.0");
    assert_non_null(strstr(r.text, "try later"));
    pipe_exit_result(67 << 8, "", &r);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    assert_string_equal(r.dsn, "5.1.1");
    pipe_exit_result(77 << 8, "", &r);
    assert_string_equal(r.dsn, "5.7.0");
    pipe_exit_result(1 << 8, "", &r);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    assert_string_equal(r.dsn, "5.3.0");
    pipe_exit_result(SIGKILL, "", &r);
    assert_int_equal(r.status, LOCAL_DEFER);
}

/* test_pipe_deliver - stdin, environment, exit codes, time limit */
static void test_pipe_deliver(void **state)
{
    mem_msg_t m;
    local_msg_t msg = mem_msg(&m, plain_lines);
    local_pipe_env_t env = {"s@x.test", "u+e@l.test", "rfc822;U@l.test", "u+e", "e", "l.test", "u",
			    "/",        NULL};
    local_result_t r;
    char *cmd, *text;

    cmd = mr_format("cat > %s/piped; echo \"$SENDER|$RECIPIENT|$LOCAL|$EXTENSION|$DOMAIN|"
		    "$USER|$HOME|$ORIGINAL_RECIPIENT|$PATH\" > %s/env",
		    unit_tmpdir(), unit_tmpdir());
    pipe_deliver(cmd, &env, &msg, "u+e@l.test", &r);
    assert_int_equal(r.status, LOCAL_SENT);
    text = slurp(path_in("env", ""));
    assert_string_equal(text, "s@x.test|u+e@l.test|u+e|e|l.test|u|/|rfc822;U@l.test|"
			      "/usr/bin:/bin\n");
    mr_free(text);
    text = slurp(path_in("piped", ""));
    assert_non_null(strstr(text, "Delivered-To: u+e@l.test\nReceived: from x\n"));
    mr_free(text);
    mr_free(cmd);
    pipe_deliver("echo busy; exit 75", &env, &msg, "u@l.test", &r);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_non_null(strstr(r.text, "busy"));
    pipe_deliver("exit 67", &env, &msg, "u@l.test", &r);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    assert_string_equal(r.dsn, "5.1.1");
    pipe_deliver("true", &env, &msg, "u@l.test", &r); /* reads nothing */
    assert_int_equal(r.status, LOCAL_SENT);
    config_override("command_time_limit", "1s");
    config_fill(&(const char *){NULL});
    pipe_deliver("sleep 30", &env, &msg, "u@l.test", &r);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_string_equal(r.text, "command time limit exceeded");
    config_override("command_time_limit", "5s");
    config_fill(&(const char *){NULL});
}

/* deliver - one whole recipient */
static local_result_t deliver(const char *rcpt, const char **lines)
{
    mem_msg_t m;
    local_msg_t msg = mem_msg(&m, lines ? lines : plain_lines);
    local_result_t r;

    local_deliver(&msg, rcpt, 0, NULL, NULL, &r);
    return r;
}

/* count_new - messages in DIR/new */
static int count_new(const char *dir)
{
    char *sub = mr_format("%s/new", dir);
    DIR *d = opendir(sub);
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)) != NULL)
	n += e->d_name[0] != '.';
    if (d)
	closedir(d);
    mr_free(sub);
    return n;
}

/* last_new - content of the newest message in DIR/new (names sort by time) */
static char *last_new(const char *dir)
{
    char *sub = mr_format("%s/new", dir);
    struct dirent **list;
    int n = scandir(sub, &list, NULL, alphasort);
    char *path, *text = NULL;

    if (n > 0) {
	path = mr_format("%s/%s", sub, list[n - 1]->d_name);
	text = slurp(path);
	mr_free(path);
    }
    for (int i = 0; i < n; i++)
	free(list[i]);
    if (n >= 0)
	free(list);
    mr_free(sub);
    return text;
}

/* test_virtual - virtual mailboxes: Maildir, mbox, +ext, unknown, loop */
static void test_virtual(void **state)
{
    const char *looped[] = {"Delivered-To: alice@v.test", "", "x", NULL};
    const char *alice = path_in("mail/v.test/alice", "");
    local_result_t r;
    char *text;

    r = deliver("alice@v.test", NULL);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_string_equal(r.text, "delivered to maildir");
    text = last_new(alice);
    assert_non_null(text);
    assert_string_equal(text, "Return-Path: <sender@example.com>\nDelivered-To: "
			      "alice@v.test\nReceived: from x\nSubject: hi\n\nFrom the start\n"
			      ">From quoted\nbody\n");
    mr_free(text);
    r = deliver("bob+news@v.test", NULL);
    assert_int_equal(r.status, LOCAL_SENT);
    text = last_new(path_in("mail/v.test/bob", ""));
    assert_non_null(strstr(text, "Delivered-To: bob+news@v.test\n"));
    mr_free(text);
    r = deliver("carol@v.test", NULL);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_string_equal(r.text, "delivered to mailbox");
    text = slurp(path_in("mail/v.test/carol.mbox", ""));
    assert_int_equal(strncmp(text, "From sender@example.com ", 24), 0);
    mr_free(text);
    r = deliver("dave@v.test", NULL);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    assert_string_equal(r.dsn, "5.1.1");
    r = deliver("alice@v.test", looped);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    assert_string_equal(r.dsn, "5.4.6");
    assert_string_equal(r.text, "mail forwarding loop for alice@v.test");
    assert_int_equal(count_new(alice), 1);
}

/* test_aliases - lists, +ext, commands, files, :include:, unknowns */
static void test_aliases(void **state)
{
    char *alice = mr_strdup(path_in("mail/v.test/alice", ""));
    char *bob = mr_strdup(path_in("mail/v.test/bob", ""));
    int na = count_new(alice), nb = count_new(bob);
    local_result_t r;
    char *text;

    /* a list of two addresses is re-submitted through cleanup, which is
     * not running here: deferred, and nothing delivered meanwhile */
    r = deliver("team@l.test", NULL);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_non_null(strstr(r.text, "cannot forward"));
    assert_int_equal(count_new(alice), na);
    assert_int_equal(count_new(bob), nb);
    r = deliver("team+x@l.test", NULL);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_int_equal(count_new(alice), na);
    r = deliver("pipe+ext@l.test", NULL);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_string_equal(r.text, "delivered to command");
    text = slurp(path_in("mail/env", ""));
    assert_string_equal(text, "sender@example.com pipe+ext@l.test pipe+ext ext l.test\n");
    mr_free(text);
    r = deliver("file@l.test", NULL);
    assert_int_equal(r.status, LOCAL_SENT);
    text = slurp(path_in("mail/file.mbox", ""));
    assert_non_null(strstr(text, "\nDelivered-To: file@l.test\n"));
    mr_free(text);
    r = deliver("inc@l.test", NULL); /* one address: delivered at once */
    assert_int_equal(r.status, LOCAL_SENT);
    assert_int_equal(count_new(bob), nb + 1);
    text = last_new(bob);
    assert_non_null(strstr(text, "Delivered-To: inc@l.test\n"));
    mr_free(text);
    r = deliver("deep@l.test", NULL); /* to itself: the system user, unknown */
    assert_int_equal(r.status, LOCAL_BOUNCE);
    assert_string_equal(r.dsn, "5.1.1");
    r = deliver("nosuchuser@l.test", NULL);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    assert_string_equal(r.text, "unknown user: \"nosuchuser\"");
    r = deliver("fwd@l.test", NULL); /* no cleanup here: the forward defers */
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_non_null(strstr(r.text, "cannot forward"));
    assert_int_equal(count_new(bob), nb + 1);
    mr_free(alice);
    mr_free(bob);
}

/* test_refresh - a rebuilt alias table is used from the next request on */
static void test_refresh(void **state)
{
    char *alice = mr_strdup(path_in("mail/v.test/alice", ""));
    char *bob = mr_strdup(path_in("mail/v.test/bob", ""));
    char *old = slurp(path_in("aliases", ""));
    int na = count_new(alice), nb = count_new(bob);
    local_result_t r;

    char *tmp = mr_strdup(unit_write_file("aliases.new", "team: bob@v.test\n"));

    assert_int_equal(rename(tmp, path_in("aliases", "")), 0);
    r = deliver("team@l.test", NULL); /* same request: the old table (two) */
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_non_null(strstr(r.text, "cannot forward"));
    local_resolve_refresh();
    r = deliver("team@l.test", NULL);
    assert_int_equal(r.status, LOCAL_SENT);
    assert_int_equal(count_new(alice), na);
    assert_int_equal(count_new(bob), nb + 1);
    unit_write_file("aliases", old);
    local_resolve_refresh();
    mr_free(old);
    mr_free(tmp);
    mr_free(alice);
    mr_free(bob);
}

/* test_restricted - commands and files only where allowed */
static void test_restricted(void **state)
{
    local_result_t r;

    config_override("allow_mail_to_commands", "forward");
    config_override("allow_mail_to_files", "forward");
    r = deliver("pipe@l.test", NULL);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    assert_string_equal(r.dsn, "5.7.1");
    r = deliver("file@l.test", NULL);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    config_override("allow_mail_to_commands", "alias, forward");
    config_override("allow_mail_to_files", "alias, forward");
}

/* test_verify - what would happen */
static void test_verify(void **state)
{
    local_result_t r;

    local_verify("alice@v.test", &r);
    assert_int_equal(r.status, LOCAL_SENT);
    local_verify("dave@v.test", &r);
    assert_int_equal(r.status, LOCAL_BOUNCE);
    local_verify("team+x@l.test", &r);
    assert_int_equal(r.status, LOCAL_SENT);
    local_verify("nosuchuser@l.test", &r);
    assert_int_equal(r.status, LOCAL_BOUNCE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_maildir_name),
	cmocka_unit_test(test_maildir_deliver),
	cmocka_unit_test(test_maildir_deliver_held),
	cmocka_unit_test(test_body),
	cmocka_unit_test(test_loop),
	cmocka_unit_test(test_forward_check),
	cmocka_unit_test(test_forward_read),
	cmocka_unit_test(test_expand),
	cmocka_unit_test(test_mbox),
	cmocka_unit_test(test_mbox_locked),
	cmocka_unit_test(test_pipe_exit),
	cmocka_unit_test(test_pipe_deliver),
	cmocka_unit_test(test_virtual),
	cmocka_unit_test(test_aliases),
	cmocka_unit_test(test_refresh),
	cmocka_unit_test(test_restricted),
	cmocka_unit_test(test_verify),
    };

    setup_config("");
    local_resolve_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
