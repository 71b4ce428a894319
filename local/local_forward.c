/*
 * local_forward.c - the rules for ~/.forward.
 *
 * A .forward file makes the local agent run commands and write files as
 * its owner, so it is honoured only when nobody else could have written
 * it: it must be a regular file with one hard link (not a link to
 * someone else's file), owned by the user (or root), and not writable by
 * group or others. It is opened by a child already running as the user
 * (local_user_run) with O_NOFOLLOW, and checked through the descriptor,
 * so there is no window between check and use. A file that breaks a
 * rule is logged and ignored (mail goes to the mailbox), rather than
 * bouncing mail because of a chmod.
 *
 * With an address extension (user+ext), HOME/.forward+ext is tried
 * first, then HOME/.forward.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define FORWARD_MAX (64 * 1024) /* bytes of .forward read */

/* forward_check - ownership and mode rules on the open file */
const char *forward_check(int fd, uid_t uid)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
	return "cannot stat";
    if (!S_ISREG(st.st_mode))
	return "not a regular file";
    if (st.st_nlink != 1)
	return "more than one hard link";
    if (st.st_uid != uid && st.st_uid != 0)
	return "not owned by the user";
    if (st.st_mode & (S_IWGRP | S_IWOTH))
	return "writable by group or others";
    if (st.st_size > FORWARD_MAX)
	return "too large";
    return NULL;
}

/* forward_slurp - read the whole (bounded) file */
static int forward_slurp(int fd, str_t *data)
{
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) != 0) {
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0 || str_len(data) + (size_t)n > FORWARD_MAX)
	    return -1;
	str_append(data, buf, (size_t)n);
    }
    return memchr(str_data(data), 0, str_len(data)) ? -1 : 0;
}

/* forward_try - one candidate file: 1 used, 0 absent or refused, -1 error */
static int forward_try(const char *path, uid_t uid, str_t *data, local_result_t *r)
{
    const char *why;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
	if (errno == ENOENT || errno == ENOTDIR)
	    return 0;
	if (errno == ELOOP) {
	    msg_warn("ignoring %s: it is a symbolic link", path);
	    return 0;
	}
	local_result_set(r, LOCAL_DEFER, "4.3.0", "cannot open %s: %s", path, strerror(errno));
	return -1;
    }
    if ((why = forward_check(fd, uid)) != NULL) {
	msg_warn("ignoring %s: %s", path, why);
	close(fd);
	return 0;
    }
    if (forward_slurp(fd, data) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "cannot read %s", path);
	close(fd);
	return -1;
    }
    close(fd);
    return 1;
}

/* forward_read - the .forward+ext or .forward of a user, if usable */
void forward_read(const char *home, uid_t uid, const char *ext, str_t *data, local_result_t *r)
{
    char *path;
    int ret = 0;

    str_reset(data);
    if (ext && *ext && strchr(ext, '/') == NULL) {
	path = mr_format("%s/.forward+%s", home, ext);
	ret = forward_try(path, uid, data, r);
	mr_free(path);
    }
    if (ret == 0) {
	path = mr_format("%s/.forward", home);
	ret = forward_try(path, uid, data, r);
	mr_free(path);
    }
    if (ret >= 0)
	local_result_set(r, LOCAL_SENT, "2.0.0", "%s",
			 ret ? "forward file read" : "no forward file");
}
