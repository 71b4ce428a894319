/*
 * pop3d_box.c - the mailbox of a POP3 session: lock, open, update.
 *
 * One POP3 session per mailbox at a time (RFC 1939 asks for an exclusive
 * lock; RFC 2449's [IN-USE] says why a login is refused): a flock on
 * mailroom.pop3.lock in the mailbox directory, taken without waiting and
 * held until the session ends; the kernel drops it if the process dies.
 * The store's own index lock (lib/store) is separate and only held while
 * the index changes, so deliveries and other readers go on meanwhile.
 *
 * A system user's mbox (/var/mail/USER) has its index and the session
 * lock in ~/.mailroom. The mbox itself is locked only while the store
 * reads it (an fcntl read lock, waiting as local does) and while the
 * deletions of QUIT rewrite it (dot-lock and fcntl write lock, the
 * protocol of global/mbox_lock.c), never for the whole session: mail
 * delivered meanwhile is appended, not deferred, and stays at QUIT. A
 * mailbox still locked after deliver_lock_attempts is [IN-USE].
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "pop3d.h"
#include "util/privs.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"

#define POP3D_LOCK_NAME "mailroom.pop3.lock"

/* box_lock - the session lock; fd, -1 in use (reply sent), -2 error */
static int box_lock(pop3d_session_t *s)
{
    char *path = mr_format("%s/%s", s->login.maildir, POP3D_LOCK_NAME);
    const char *err;
    int fd;

    if (s->login.mbox && mkdir(s->login.maildir, 0700) < 0 && errno != EEXIST)
	msg_warn("user=<%s>: mkdir %s: %m", s->login.name, s->login.maildir);
    fd = safe_open(path, O_RDWR | O_CREAT | SAFE_OPEN_MAY_EXIST | O_CLOEXEC, 0600, (uid_t)-1, &err);
    mr_free(path);
    if (fd < 0) {
	msg_warn("user=<%s>: lock %s: %s", s->login.name, s->login.maildir, err);
	return -2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
	int in_use = errno == EWOULDBLOCK;

	close(fd);
	if (!in_use)
	    return -2;
	msg_info("user=<%s>, client=%s: mailbox in use", s->login.name, s->addr);
	pop3d_reply(s, "-ERR [IN-USE] Mailbox is locked by another POP3 session");
	return -1;
    }
    return fd;
}

/* owner_ok - may this process work in the mailbox as its owner? When
 * master started us as root we now run as mail_owner, and a mailbox of
 * any other uid is refused; started by an ordinary user (development,
 * tests without root) everything runs as that user and the check is off,
 * as for every daemon (DESIGN.md, Privileges). */
static int owner_ok(const pop3d_session_t *s)
{
    uid_t owner_uid;
    gid_t owner_gid;

    if (privs_lookup(config_str("mail_owner"), &owner_uid, &owner_gid) < 0 ||
	geteuid() != owner_uid)
	return 1;
    return s->login.uid == geteuid();
}

/* pop3d_mailbox_open - lock and open the logged-in user's mailbox */
int pop3d_mailbox_open(pop3d_session_t *s)
{
    const char *err;

    if (!owner_ok(s)) {
	msg_warn("user=<%s>: mailbox %s belongs to uid %ld, not to this process's %ld",
		 s->login.name, s->login.maildir, (long)s->login.uid, (long)geteuid());
	pop3d_reply(s, "-ERR [SYS/PERM] This mailbox cannot be served over POP3 here");
	return -1;
    }
    if ((s->lock_fd = box_lock(s)) < 0) {
	if (s->lock_fd == -2)
	    pop3d_reply(s, "-ERR [SYS/TEMP] Mailbox cannot be locked, try again later");
	s->lock_fd = -1;
	return -1;
    }
    if ((s->login.mbox ? store_open_mbox(s->login.mbox, s->login.maildir, &s->store, &err)
		       : store_open(s->login.maildir, &s->store, &err)) < 0) {
	int in_use = errno == EAGAIN;

	msg_warn("user=<%s>: %s", s->login.name, err);
	if (in_use)
	    pop3d_reply(s, "-ERR [IN-USE] Mailbox is locked by another program, try again later");
	else
	    pop3d_reply(s, "-ERR [SYS/TEMP] Mailbox cannot be opened, try again later");
	close(s->lock_fd);
	s->lock_fd = -1;
	return -1;
    }
    s->count = s->store->count;
    s->deleted = mr_calloc(s->count + 1, 1);
    return 0;
}

/* pop3d_mailbox_close - apply deletions (update), unlock, close */
int pop3d_mailbox_close(pop3d_session_t *s, int update, const char **error_r)
{
    unsigned long *uids = mr_calloc(s->count + 1, sizeof(*uids));
    size_t n = 0;
    int ret = 0;

    for (size_t i = 0; update && i < s->count; i++)
	if (s->deleted[i])
	    uids[n++] = s->store->msgs[i].uid;
    if (n > 0 && store_expunge(s->store, uids, n, error_r) < 0)
	ret = -1;
    mr_free(uids);
    store_close(&s->store);
    mr_free(s->deleted);
    s->deleted = NULL;
    if (s->lock_fd >= 0)
	close(s->lock_fd);
    s->lock_fd = -1;
    return ret;
}
