/*
 * privs.h - dropping privileges, in one place and one fixed order.
 *
 * The order is: (caller's privileged pre-init: open keys, tables, logs)
 *   -> look up the user -> chroot -> setgroups/setgid/setuid
 *   -> verify that root cannot be regained -> PR_SET_NO_NEW_PRIVS
 *   -> (caller's post-init) -> read the first byte of input.
 * Not started as root, there is nothing to drop: the call is a no-op that
 * says so once in the log, and the same code path runs.
 */
#ifndef MR_PRIVS_H
#define MR_PRIVS_H

#include <sys/types.h>

/* privs_lookup - uid/gid of a user name; 0 ok, -1 no such user */
int privs_lookup(const char *user, uid_t *uid_r, gid_t *gid_r);
/* privs_drop - chroot (if dir is not NULL/empty) and become user; fatal on
 * any failure, since carrying on with privileges would be worse */
void privs_drop(const char *user, const char *chroot_dir);
/* privs_chroot - chroot into dir (cwd "/") and set PR_SET_NO_NEW_PRIVS,
 * for a process that keeps its uid (local delivery); fatal on failure.
 * Call tzset() (and open the log) first: nothing outside dir is readable
 * afterwards. */
void privs_chroot(const char *dir);
/* privs_become - switch to uid/gid for good (used by local delivery) */
void privs_become(uid_t uid, gid_t gid);
/* privs_become_member - as privs_become, with the supplementary groups
 * of user from the group file as well (a system user's mail process) */
void privs_become_member(const char *user, uid_t uid, gid_t gid);
/* privs_become_member_keeping - as privs_become_member, and keep as the
 * saved group id: a group the process is not in, that privs_kept_group
 * makes effective for a few operations (pop3d creating an mbox's dot-lock
 * in a spool directory writable by group mail, as Dovecot's
 * mail_privileged_group). The uid stays uid for good. */
void privs_become_member_keeping(const char *user, uid_t uid, gid_t gid, gid_t keep);
/* privs_kept_group - on: the kept group as the effective group id; off:
 * the own group again. A no-op when no group is kept. Failure is fatal. */
void privs_kept_group(int on);
/* privs_no_new_privs - no exec may gain privileges from now on */
void privs_no_new_privs(void);
/* privs_running_as_root - were we started by root? */
int privs_running_as_root(void);

/*
 * privs_as_user / privs_as_root - for code that stays root (master): run
 * a few operations with the effective ids (and groups) of uid/gid, so
 * that the kernel checks them as that user's. Used around every
 * path-based operation in a directory that user can write: a link that
 * user planted then reaches nothing that user could not reach anyway.
 * Real and saved ids stay root, so privs_as_root gets root back. Not
 * nested; a no-op when not running as root. Failure is fatal.
 */
void privs_as_user(uid_t uid, gid_t gid);
void privs_as_root(void);

#endif
