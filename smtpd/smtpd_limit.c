/*
 * smtpd_limit.c - smtpd_client_connection_count_limit without a shared
 * daemon.
 *
 * Each smtpd process serves one client, so the sessions of one client
 * address are spread over processes. They meet in one small file per
 * client address in $data_directory/smtpd-conn/: a session holds a
 * write lock (fcntl) on one byte of that file, byte i standing for
 * "slot i is taken". A new session tries bytes 0 .. limit-1 and takes
 * the first free one; if none is free the client is over its limit.
 * The kernel drops fcntl locks when the process exits, however it
 * exits (even kill -9), so a crashed smtpd never leaks a slot and no
 * counter ever needs repair. The files stay (empty, one per address
 * seen); they are harmless and may be removed at any time while no
 * session from that address is open.
 *
 * The directory is created and opened in pre_init (as root, before any
 * chroot) and used through openat() afterwards. Clients matching
 * smtpd_client_event_limit_exceptions (default $mynetworks) are exempt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pwd.h>

#include "global/config.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "smtpd.h"

#define LIMIT_DIR	"smtpd-conn"

static int limit_dir_fd = -1;
static int limit_fd = -1;

/* smtpd_limit_init - create and open the lock directory */
void    smtpd_limit_init(void)
{
    char   *path = mr_format("%s/%s", config_str("data_directory"), LIMIT_DIR);
    struct passwd *pw;

    if (config_int("smtpd_client_connection_count_limit", 0, 100000) == 0) {
	mr_free(path);
	return;
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
	msg_warn("mkdir %s: %m (no connection count limit)", path);
    if (geteuid() == 0 && (pw = getpwnam(config_str("mail_owner"))) != NULL
	&& chown(path, pw->pw_uid, pw->pw_gid) < 0)
	msg_warn("chown %s: %m", path);
    if ((limit_dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
	msg_warn("open %s: %m (no connection count limit)", path);
    mr_free(path);
}

/* limit_file_name - a file name for an address (':' is fine; '/' is not) */
static void limit_file_name(const char *addr, char *buf, size_t len)
{
    size_t  i;

    mr_strlcpy(buf, addr, len);
    for (i = 0; buf[i]; i++)
	if (buf[i] == '/' || (buf[i] == '.' && i == 0))
	    buf[i] = '_';
}

/* limit_try_slot - lock byte slot; 1 taken by us, 0 busy, -1 error */
static int limit_try_slot(int fd, long slot)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
		       .l_start = slot, .l_len = 1};

    if (fcntl(fd, F_SETLK, &fl) == 0)
	return 1;
    return (errno == EACCES || errno == EAGAIN) ? 0 : -1;
}

/* smtpd_limit_acquire - take a slot for this client */
int     smtpd_limit_acquire(smtpd_state_t *st)
{
    long    limit = config_int("smtpd_client_connection_count_limit", 0, 100000);
    char    name[80];
    long    slot;
    int     r = 0;

    if (limit == 0 || limit_dir_fd < 0
	|| smtpd_check_addr_in_list(st->addr,
				    config_str("smtpd_client_event_limit_exceptions")))
	return 1;
    limit_file_name(st->addr, name, sizeof(name));
    if ((limit_fd = openat(limit_dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
	msg_warn("open %s/%s: %m (connection not counted)", LIMIT_DIR, name);
	return 1;
    }
    for (slot = 0; slot < limit && (r = limit_try_slot(limit_fd, slot)) == 0; slot++)
	 /* void */ ;
    if (r < 0) {
	msg_warn("lock %s/%s: %m (connection not counted)", LIMIT_DIR, name);
	return 1;
    }
    if (r == 0) {
	msg_warn("Connection concurrency limit exceeded: %ld from %s for service %s",
		 limit + 1, st->namaddr, st->service);
	smtpd_limit_release();
	return 0;
    }
    return 1;
}

/* smtpd_limit_release - closing the file drops our lock */
void    smtpd_limit_release(void)
{
    if (limit_fd >= 0) {
	(void) close(limit_fd);
	limit_fd = -1;
    }
}
