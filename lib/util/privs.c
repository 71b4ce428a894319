/*
 * privs.c - privilege drop and chroot (order argued in privs.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "msg.h"
#include "privs.h"

#define PRIVS_MAX_GROUPS 256

static gid_t privs_saved_groups[PRIVS_MAX_GROUPS];
static int privs_saved_ngroups = -1; /* -1: not switched */

int privs_running_as_root(void)
{
    return geteuid() == 0;
}

int privs_lookup(const char *user, uid_t *uid_r, gid_t *gid_r)
{
    struct passwd *pw = getpwnam(user);

    if (pw == NULL)
	return -1;
    *uid_r = pw->pw_uid;
    *gid_r = pw->pw_gid;
    return 0;
}

/* privs_set_ids - gid then uid (groups are set), then prove it sticks */
static void privs_set_ids(uid_t uid, gid_t gid)
{
    if (setgid(gid) < 0)
	msg_fatal("setgid(%ld): %s", (long)gid, strerror(errno));
    if (setuid(uid) < 0)
	msg_fatal("setuid(%ld): %s", (long)uid, strerror(errno));
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
	msg_panic("privilege drop to uid %ld can be undone", (long)uid);
}

/* privs_become - one group, then the ids */
void privs_become(uid_t uid, gid_t gid)
{
    if (setgroups(1, &gid) < 0)
	msg_fatal("setgroups(%ld): %s", (long)gid, strerror(errno));
    privs_set_ids(uid, gid);
}

/* privs_become_member - the user's groups, then the ids */
void privs_become_member(const char *user, uid_t uid, gid_t gid)
{
    if (initgroups(user, gid) < 0)
	msg_fatal("initgroups(%s): %s", user, strerror(errno));
    privs_set_ids(uid, gid);
}

static gid_t privs_kept_gid;
static gid_t privs_own_gid;
static int privs_keeping;

/* privs_become_member_keeping - as privs_become_member, with keep as the
 * saved group id, for privs_kept_group */
void privs_become_member_keeping(const char *user, uid_t uid, gid_t gid, gid_t keep)
{
    if (initgroups(user, gid) < 0)
	msg_fatal("initgroups(%s): %s", user, strerror(errno));
    if (setresgid(gid, gid, keep) < 0)
	msg_fatal("setresgid(%ld, %ld, %ld): %s", (long)gid, (long)gid, (long)keep,
		  strerror(errno));
    if (setresuid(uid, uid, uid) < 0)
	msg_fatal("setresuid(%ld): %s", (long)uid, strerror(errno));
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
	msg_panic("privilege drop to uid %ld can be undone", (long)uid);
    privs_kept_gid = keep;
    privs_own_gid = gid;
    privs_keeping = keep != gid;
}

/* privs_kept_group - the kept group as the effective one, or back */
void privs_kept_group(int on)
{
    if (privs_keeping && setegid(on ? privs_kept_gid : privs_own_gid) < 0)
	msg_fatal("setegid(%ld): %s", (long)(on ? privs_kept_gid : privs_own_gid), strerror(errno));
}

/* privs_no_new_privs - no exec may gain privileges from now on */
void privs_no_new_privs(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
	msg_fatal("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
}

/* privs_enter_jail - chroot and chdir, nothing else */
static void privs_enter_jail(const char *dir)
{
    if (chroot(dir) < 0 || chdir("/") < 0)
	msg_fatal("chroot(%s): %s", dir, strerror(errno));
}

void privs_chroot(const char *dir)
{
    privs_enter_jail(dir);
    privs_no_new_privs();
}

void privs_drop(const char *user, const char *chroot_dir)
{
    static int said_noop;
    uid_t uid;
    gid_t gid;

    if (!privs_running_as_root()) {
	if (!said_noop++ && msg_verbose)
	    msg_info("not started as root: running as uid %ld, privilege drop is a no-op",
		     (long)getuid());
	privs_no_new_privs();
	return;
    }
    if (privs_lookup(user, &uid, &gid) < 0)
	msg_fatal("unknown mail_owner user \"%s\"", user);
    if (chroot_dir && *chroot_dir)
	privs_enter_jail(chroot_dir);
    privs_become(uid, gid);
    privs_no_new_privs();
}

void privs_as_user(uid_t uid, gid_t gid)
{
    if (getuid() != 0)
	return;
    if (privs_saved_ngroups >= 0)
	msg_panic("privs_as_user: already switched");
    if ((privs_saved_ngroups = getgroups(PRIVS_MAX_GROUPS, privs_saved_groups)) < 0)
	msg_fatal("getgroups: %s", strerror(errno));
    /* groups and gid first: once the euid is not 0 they cannot change */
    if (setgroups(1, &gid) < 0 || setegid(gid) < 0 || seteuid(uid) < 0)
	msg_fatal("switch to uid %ld gid %ld: %s", (long)uid, (long)gid, strerror(errno));
}

void privs_as_root(void)
{
    if (getuid() != 0 || privs_saved_ngroups < 0)
	return;
    if (seteuid(0) < 0 || setegid(getgid()) < 0 ||
	setgroups((size_t)privs_saved_ngroups, privs_saved_groups) < 0)
	msg_fatal("switch back to root: %s", strerror(errno));
    privs_saved_ngroups = -1;
}
