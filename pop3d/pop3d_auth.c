/*
 * pop3d_auth.c - where the mailbox of an authenticated user is.
 *
 * Passwords are checked by the SASL layer (pop3d_sasl.c); this file
 * loads its modules before the privilege drop and then maps the SASL
 * user name to a mailbox and its owner. The mailbox is that of a virtual
 * user: the login name, with
 * "@$pop3d_login_domain" added when it has no domain, looked up in
 * virtual_mailbox_maps under virtual_mailbox_base (a value ending in "/"
 * is a Maildir; an mbox is refused), owned by virtual_uid/virtual_gid;
 * else, for a name without "@", the system user of that name: its
 * mailbox as local delivers it (home_mailbox: a Maildir ending in "/" or
 * an mbox file in its home; empty: the mbox mail_spool_directory/USER),
 * owned by the user. The superuser is never served.
 */
#include <pwd.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_sasl.h"
#include "global/config.h"
#include "global/mail_params.h"
#include "global/mbox_lock.h"
#include "pop3d.h"
#include "table/table.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"

static table_list_t *auth_mailboxes;
static char *auth_open_error;

/* pop3d_auth_init - load the SASL modules and open the mailbox table,
 * before the privilege drop */
void pop3d_auth_init(void)
{
    const char *err;

    if (auth_sasl_init(config_str("pop3d_sasl_path"), config_str("cyrus_sasl_config_path"), &err) <
	    0 ||
	(auth_mailboxes = table_list_open(config_str("virtual_mailbox_maps"), &err)) == 0) {
	auth_mailboxes = NULL;
	auth_open_error = mr_strdup(err);
	msg_warn("logins are unavailable: %s", err);
    }
}

/* owner_id - virtual_uid/virtual_gid: a number or a user name */
static int owner_id(const char *name, uid_t *uid_r, gid_t *gid_r)
{
    char *end;
    unsigned long n = strtoul(name, &end, 10);

    if (*name >= '0' && *name <= '9' && *end == 0) {
	*uid_r = (uid_t)n;
	*gid_r = (gid_t)n;
	return 0;
    }
    return privs_lookup(name, uid_r, gid_r);
}

/* mailbox_of - fill u's mailbox and owner; 1 ok, 0 none, -1 error */
static int mailbox_of(const char *login, pop3d_user_t *u, const char **error_r)
{
    char *addr = strchr(login, '@') ? mr_strdup(login)
				    : mr_format("%s@%s", login, config_str("pop3d_login_domain"));
    str_t *value = str_new(100);
    uid_t uid, dummy_uid;
    gid_t gid, dummy_gid;
    int r = table_list_lookup(auth_mailboxes, addr, value, error_r);
    const char *v = str_data(value);

    if (r > 0 &&
	(str_len(value) == 0 || v[str_len(value) - 1] != '/' || strstr(v, "..") || v[0] == '/')) {
	*error_r = "the mailbox is not a Maildir below virtual_mailbox_base";
	r = -1;
    }
    if (r > 0 && (owner_id(config_str("virtual_uid"), &uid, &dummy_gid) < 0 ||
		  owner_id(config_str("virtual_gid"), &dummy_uid, &gid) < 0)) {
	*error_r = "virtual_uid or virtual_gid names no user";
	r = -1;
    }
    if (r > 0) {
	u->maildir =
	    mr_format("%s/%.*s", config_str("virtual_mailbox_base"), (int)str_len(value) - 1, v);
	u->uid = uid;
	u->gid = gid;
    }
    mr_free(addr);
    str_free(&value);
    return r;
}

/* spool_group - the group that may create files in the spool directory
 * when only root and that group may (root:mail 2775, the usual
 * /var/mail): the mailbox process keeps it for the dot-lock; 1 kept, 0 not
 * needed */
static int spool_group(const char *dir, gid_t *gid_r)
{
    struct stat sb;

    if (!privs_running_as_root() || stat(dir, &sb) < 0 || (sb.st_mode & S_IWOTH) ||
	!(sb.st_mode & S_IWGRP) || sb.st_gid == 0)
	return 0;
    *gid_r = sb.st_gid;
    return 1;
}

/* system_mbox - the mbox of a system user, as local delivers it: in the
 * spool directory when home_mailbox is empty, else that file in the
 * home; its index and session lock in ~/.mailroom */
static void system_mbox(const struct passwd *pw, const char *hm, pop3d_user_t *u)
{
    const char *spool = config_str("mail_spool_directory");

    if (*hm == 0) {
	u->mbox = mr_format("%s/%s", spool, pw->pw_name);
	u->keep_gid = spool_group(spool, &u->lock_gid);
    } else {
	u->mbox = mr_format("%s/%s", pw->pw_dir, hm);
    }
    u->maildir = mr_format("%s/%s", pw->pw_dir, POP3D_MBOX_INDEX);
}

/* system_mailbox - a system user's home_mailbox: a Maildir, or an mbox
 * (spool or home); 1 ok, 0 no such user, -1 not served. Only the passwd
 * entry is read: the home directory is the user's, and only the mailbox
 * process, as the user, goes there. */
static int system_mailbox(const char *login, pop3d_user_t *u, const char **error_r)
{
    const char *hm = config_str("home_mailbox");
    struct passwd *pw;

    if (strchr(login, '@') || (pw = getpwnam(login)) == NULL)
	return 0;
    if (pw->pw_uid == 0) {
	*error_r = "the superuser's mail is not served over POP3";
	return -1;
    }
    if (*pw->pw_dir != '/' || (*hm && (*hm == '/' || strstr(hm, "..")))) {
	*error_r = "home_mailbox is not a path in a home directory";
	return -1;
    }
    if (*hm == 0 && !mbox_spool_name_ok(pw->pw_name)) {
	*error_r = "a user name ending in .lock or .rewrite has no mailbox in "
		   "mail_spool_directory (it is the lock or journal name of another user's)";
	return -1;
    }
    if (*hm == 0 || hm[strlen(hm) - 1] != '/')
	system_mbox(pw, hm, u);
    else
	u->maildir = mr_format("%s/%.*s", pw->pw_dir, (int)strlen(hm) - 1, hm);
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    u->system = 1;
    return 1;
}

/* pop3d_auth_mailbox - see pop3d.h: a virtual mailbox first */
int pop3d_auth_mailbox(const char *login, pop3d_user_t *u, const char **error_r)
{
    int r;

    if (auth_mailboxes == NULL) {
	*error_r = auth_open_error;
	return -1;
    }
    u->name = mr_strdup(login);
    if ((r = mailbox_of(login, u, error_r)) == 0 && (r = system_mailbox(login, u, error_r)) == 0)
	*error_r = "the password is right but the user has no mailbox here "
		   "(virtual_mailbox_maps, passwd)";
    if (r <= 0)
	pop3d_user_free(u);
    return r > 0 ? 1 : -1;
}

/* pop3d_user_free - release the strings of *u */
void pop3d_user_free(pop3d_user_t *u)
{
    mr_free(u->name);
    mr_free(u->maildir);
    mr_free(u->mbox);
    u->name = u->maildir = u->mbox = NULL;
}
