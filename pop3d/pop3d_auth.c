/*
 * pop3d_auth.c - who may log in, and where their mailbox is.
 *
 * Everything about authentication sits behind pop3d_auth_check: a user
 * name and password in, the mailbox and its owner out. Today the check is
 * a crypt(3) hash looked up in pop3d_password_maps (key: the login name,
 * an address), and the mailbox that of a virtual user: the
 * virtual_mailbox_maps value under virtual_mailbox_base (a value ending
 * in "/" is a Maildir; an mbox is refused), owned by virtual_uid and
 * virtual_gid. The project's SASL layer is meant to replace the password
 * part (and bring AUTH) without changing the callers.
 *
 * The hash comparison runs on crypt_r's output in constant time; an
 * unknown user is checked against a dummy hash so that the time taken
 * does not say which names exist.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_params.h"
#include "pop3d.h"
#include "table/table.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"

static table_list_t *auth_passwords, *auth_mailboxes;
static const char *auth_open_error;

/* A hash of nothing anyone can type, for unknown users. */
#define AUTH_DUMMY_HASH "$6$mailroom$Y5e5Mfs8wAGZ2FqQJ2S1Gk8cZ3Uo2pV0oQy0H4rXQm5a1t2qQW7yWn0r3xg1oW9m6v0w2y8Z3q1e5r7t9u0i2."

/* pop3d_auth_init - open the tables before the privilege drop */
void    pop3d_auth_init(void)
{
    const char *err;

    if ((auth_passwords = table_list_open(var_pop3d_password_maps, &err)) == 0
	|| (auth_mailboxes = table_list_open(config_str("virtual_mailbox_maps"), &err)) == 0) {
	auth_open_error = mr_strdup(err);
	msg_warn("%s", err);
    }
}

/* hash_equal - constant-time comparison of two hashes */
static int hash_equal(const char *a, const char *b)
{
    size_t  la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;

    for (size_t i = 0; i < la && i < lb; i++)
	diff |= (unsigned char) (a[i] ^ b[i]);
    return diff == 0;
}

/* password_ok - does pass match the stored hash (NULL: unknown user)? */
static int password_ok(const char *hash, const char *pass)
{
    struct crypt_data *cd = mr_calloc(1, sizeof(*cd));
    const char *setting = hash && hash[0] == '$' ? hash : AUTH_DUMMY_HASH;
    const char *out = crypt_r(pass, setting, cd);
    int     ok = out && out[0] != '*' && hash && hash_equal(out, hash);

    mr_free(cd);
    return ok;
}

/* owner_id - virtual_uid/virtual_gid: a number or a user name */
static int owner_id(const char *name, uid_t *uid_r, gid_t *gid_r)
{
    char   *end;
    unsigned long n = strtoul(name, &end, 10);

    if (*name >= '0' && *name <= '9' && *end == 0) {
	*uid_r = (uid_t) n;
	*gid_r = (gid_t) n;
	return 0;
    }
    return privs_lookup(name, uid_r, gid_r);
}

/* mailbox_of - fill u's mailbox and owner; 1 ok, 0 none, -1 error */
static int mailbox_of(const char *user, pop3d_user_t *u, const char **error_r)
{
    str_t  *value = str_new(100);
    uid_t   uid, dummy_uid;
    gid_t   gid, dummy_gid;
    int     r = table_list_lookup(auth_mailboxes, user, value, error_r);

    if (r > 0 && (str_len(value) == 0 || str_data(value)[str_len(value) - 1] != '/'
		  || strstr(str_data(value), "..") || str_data(value)[0] == '/')) {
	*error_r = "the mailbox is not a Maildir below virtual_mailbox_base";
	r = -1;
    }
    if (r > 0 && (owner_id(config_str("virtual_uid"), &uid, &dummy_gid) < 0
		  || owner_id(config_str("virtual_gid"), &dummy_uid, &gid) < 0)) {
	*error_r = "virtual_uid or virtual_gid names no user";
	r = -1;
    }
    if (r > 0) {
	u->name = mr_strdup(user);
	u->maildir = mr_format("%s/%s", config_str("virtual_mailbox_base"), str_data(value));
	u->maildir[strlen(u->maildir) - 1] = 0;	/* no trailing "/" */
	u->uid = uid;
	u->gid = gid;
    }
    str_free(&value);
    return r;
}

/* pop3d_auth_check - see pop3d.h */
int     pop3d_auth_check(const char *user, const char *pass, pop3d_user_t *u,
			 const char **error_r)
{
    str_t  *hash = str_new(128);
    int     r;

    if (auth_open_error) {
	*error_r = auth_open_error;
	str_free(&hash);
	return -1;
    }
    r = table_list_lookup(auth_passwords, user, hash, error_r);
    if (r >= 0)
	r = password_ok(r > 0 ? str_data(hash) : NULL, pass);
    str_free(&hash);
    if (r <= 0)
	return r;
    if ((r = mailbox_of(user, u, error_r)) == 0)
	*error_r = "the password is known but virtual_mailbox_maps has no mailbox";
    return r > 0 ? 1 : -1;
}

/* pop3d_user_free - release the strings of *u */
void    pop3d_user_free(pop3d_user_t *u)
{
    mr_free(u->name);
    mr_free(u->maildir);
    u->name = u->maildir = NULL;
}
