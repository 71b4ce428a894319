/*
 * local_maildir.c - delivery into a Maildir.
 *
 * Runs as the mailbox owner (a child made by local_user_run), so the
 * kernel checks every path with the owner's rights.
 *
 * File names follow the Maildir convention: "SEC.M<usec>P<pid>Q<n>.HOST"
 * in tmp/, and the same plus ",S=<size>" in new/ (size in bytes, which
 * lets IMAP and POP3 servers report sizes without a stat). SEC and usec
 * are the time of delivery, pid the delivering process, n a counter of
 * deliveries in the local process; no two deliveries on one host share
 * all three. '/' and ':' in the host name are written \057 and \072.
 *
 * Commit sequence, and why a success is never a lie:
 *   1. create tmp/NAME with O_CREAT|O_EXCL|O_NOFOLLOW (never reuse or
 *      follow anything), write the whole message, fsync it;
 *   2. rename (without replacing) to new/NAME,S=SIZE: readers only look
 *      in new/ and cur/, so they see the whole message or nothing;
 *   3. fsync new/, so the name is on disk too;
 *   only then is success returned, the queue file's recipient marked
 *   done and the delivery logged. A crash before 3 ended leaves at most a
 *   file in tmp/ (which MUAs clean up after 36 hours) or a complete
 *   message in new/ whose recipient is not yet marked done: it is
 *   delivered again (a duplicate, never a loss). Concurrent deliveries
 *   each run both fsyncs; the file system may serve several of them
 *   with one journal commit, but none is skipped.
 * maildir_deliver_held stops after step 2 and hands new/ back open: the
 * kept child (local_keep.c) then runs step 3 once for a batch of
 * messages, and local reports none of them before that (local.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "local.h"
#include "util/mymalloc.h"

unsigned long maildir_seq;
pid_t maildir_pid;

/* maildir_name - the unique part of a new file's name */
void maildir_name(str_t *out, long sec, long usec, long pid, unsigned long seq, const char *host)
{
    str_printf(out, "%ld.M%06ldP%ldQ%lu.", sec, usec, pid, seq);
    for (const char *cp = host; *cp; cp++) {
	if (*cp == '/')
	    str_appends(out, "\\057");
	else if (*cp == ':')
	    str_appends(out, "\\072");
	else
	    str_appendc(out, *cp);
    }
}

/* maildir_mkdirs - create dir and its missing parents (mode 0700) */
static int maildir_mkdirs(const char *dir)
{
    char *path = mr_strdup(dir);
    int ret = 0;

    for (char *cp = path + 1; ret == 0; cp++) {
	if (*cp != '/' && *cp != 0)
	    continue;
	int last = (*cp == 0);

	*cp = 0;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
	    ret = -1;
	if (last)
	    break;
	*cp = '/';
    }
    mr_free(path);
    return ret;
}

/* maildir_open_subs - open tmp/ and new/ of dfd: 0, -1 (errno) */
static int maildir_open_subs(int dfd, int *tmp_r, int *new_r)
{
    int err;

    *new_r = -1;
    if ((*tmp_r = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
	return -1;
    if ((*new_r = openat(dfd, "new", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
	return 0;
    err = errno;
    close(*tmp_r);
    errno = err;
    return -1;
}

/* maildir_open - open dir's tmp/ and new/; when one is missing,
 * create dir and its tmp/ new/ cur/ first (an existing Maildir costs
 * three opens, no mkdir) */
int maildir_open(const char *dir, int *tmp_r, int *new_r)
{
    static const char *subs[] = {"tmp", "new", "cur"};
    int dfd, ret;

    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
	if (errno != ENOENT || maildir_mkdirs(dir) < 0 ||
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
	    return -1;
    }
    if ((ret = maildir_open_subs(dfd, tmp_r, new_r)) < 0 && errno == ENOENT) {
	for (int i = 0; i < 3; i++)
	    if (mkdirat(dfd, subs[i], 0700) < 0 && errno != EEXIST) {
		close(dfd);
		return -1;
	    }
	ret = maildir_open_subs(dfd, tmp_r, new_r);
    }
    close(dfd);
    return ret;
}

/* maildir_host - this host's name, asked once per process */
static const char *maildir_host(void)
{
    static char host[256];

    if (host[0] == 0 && (gethostname(host, sizeof(host)) < 0 || host[0] == 0))
	mr_strlcpy(host, "localhost", sizeof(host));
    host[sizeof(host) - 1] = 0;
    return host;
}

/* maildir_fail - a temporary failure naming the step */
static void maildir_fail(local_result_t *r, const char *dir, const char *step, int err)
{
    const char *dsn = (err == ENOSPC || err == EDQUOT) ? "4.2.2" : "4.2.0";

    local_result_set(r, LOCAL_DEFER, dsn, "maildir delivery failed: %s %s: %s", step, dir,
		     strerror(err));
}

/* maildir_write - steps 1 and 2: 0 done, -1 with *r set */
static int maildir_write(int tmpfd, int newfd, const char *name, const local_msg_t *msg,
			 const char *rcpt, local_result_t *r, const char *dir)
{
    const char *why;
    char final[512];
    long long size;
    int fd, err;

    if ((fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) <
	0) {
	maildir_fail(r, dir, "create in", errno);
	return -1;
    }
    if ((size = local_msg_write(fd, msg, rcpt, 0, &why)) < 0) {
	err = errno;
	local_result_set(r, LOCAL_DEFER, err == ENOSPC || err == EDQUOT ? "4.2.2" : "4.3.0",
			 "maildir delivery failed: write to %s: %s", dir, why);
	goto fail;
    }
    if (fsync(fd) < 0) {
	maildir_fail(r, dir, "fsync in", err = errno);
	goto fail;
    }
    snprintf(final, sizeof(final), "%s,S=%lld", name, size);
    if (renameat2(tmpfd, name, newfd, final, RENAME_NOREPLACE) < 0) {
	maildir_fail(r, dir, "rename into", err = errno);
	goto fail;
    }
    close(fd);
    return 0;

fail:
    close(fd);
    unlinkat(tmpfd, name, 0);
    return -1;
}

/* maildir_deliver - the whole commit sequence */
void maildir_deliver(const char *dir, const local_msg_t *msg, const char *rcpt, local_result_t *r)
{
    int newfd;

    maildir_deliver_held(dir, msg, rcpt, &newfd, r);
    if (r->status != LOCAL_SENT)
	return;
    if (fsync(newfd) < 0)
	maildir_fail(r, dir, "fsync new/ of", errno);
    close(newfd);
}

/* maildir_deliver_in - steps 1 and 2 with tmp/ and new/ open */
void maildir_deliver_in(int tmpfd, int newfd, const char *dir, const local_msg_t *msg,
			const char *rcpt, local_result_t *r)
{
    struct timeval tv;
    str_t *name = str_new(100);

    gettimeofday(&tv, NULL);
    maildir_name(name, (long)tv.tv_sec, (long)tv.tv_usec,
		 (long)(maildir_pid > 0 ? maildir_pid : getpid()), maildir_seq, maildir_host());
    if (maildir_write(tmpfd, newfd, str_data(name), msg, rcpt, r, dir) == 0)
	local_result_set(r, LOCAL_SENT, "2.0.0", "delivered to maildir");
    str_free(&name);
}

/* maildir_deliver_open - maildir_open, or a temporary failure */
int maildir_deliver_open(const char *dir, int *tmp_r, int *new_r, local_result_t *r)
{
    if (maildir_open(dir, tmp_r, new_r) == 0)
	return 0;
    maildir_fail(r, dir, "open", errno);
    return -1;
}

/* maildir_deliver_held - steps 1 and 2; new/ is left open for step 3 */
void maildir_deliver_held(const char *dir, const local_msg_t *msg, const char *rcpt, int *newfd_r,
			  local_result_t *r)
{
    int tmpfd, newfd;

    *newfd_r = -1;
    if (maildir_deliver_open(dir, &tmpfd, &newfd, r) < 0)
	return;
    maildir_deliver_in(tmpfd, newfd, dir, msg, rcpt, r);
    if (r->status == LOCAL_SENT)
	*newfd_r = newfd;
    else
	close(newfd);
    close(tmpfd);
}
