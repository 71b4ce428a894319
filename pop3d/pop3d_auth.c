/*
 * pop3d_auth.c - who may log in, and where their mailbox is.
 *
 * Everything about authentication sits behind pop3d_auth_check: a user
 * name and password in, the mailbox and its owner out. The password is
 * checked by the project's SASL layer (auth/auth_sasl.h, Cyrus libsasl2,
 * configured by pop3d_sasl_path.conf in cyrus_sasl_config_path, like
 * smtpd's AUTH): USER/PASS is run as the PLAIN mechanism, so every
 * password backend Cyrus knows (sasldb, saslauthd/PAM, ...) works. The
 * mailbox is that of a virtual user: the login name, with
 * "@$pop3d_login_domain" added when it has no domain, looked up in
 * virtual_mailbox_maps under virtual_mailbox_base (a value ending in "/"
 * is a Maildir; an mbox is refused), owned by virtual_uid/virtual_gid.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_sasl.h"
#include "global/config.h"
#include "global/mail_params.h"
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
	auth_open_error = mr_strdup(err);
	msg_warn("logins are unavailable: %s", err);
    }
}

/* plain_response - "\0user\0pass" in base64 */
static char *plain_response(const char *user, const char *pass)
{
    size_t ulen = strlen(user), plen = strlen(pass), len = ulen + plen + 2;
    unsigned char *raw = mr_alloc(len);
    char *b64 = mr_alloc(4 * ((len + 2) / 3) + 1);

    raw[0] = 0;
    memcpy(raw + 1, user, ulen);
    raw[1 + ulen] = 0;
    memcpy(raw + 2 + ulen, pass, plen);
    EVP_EncodeBlock((unsigned char *)b64, raw, (int)len);
    memset(raw, 0, len);
    mr_free(raw);
    return b64;
}

/* password_check - PLAIN through the SASL layer; 1 ok (*login_r, the
 * SASL user name), 0 refused, -1 trouble */
static int password_check(const char *user, const char *pass, char **login_r, const char **error_r)
{
    auth_sasl_args_t a = {0};
    auth_sasl_t *s;
    str_t *out = str_new(64);
    char *b64 = plain_response(user, pass);
    int r;

    a.service = "pop";
    a.server_name = config_str("myhostname");
    a.user_realm = config_str("pop3d_sasl_local_domain");
    a.security_options = "noanonymous";
    if ((s = auth_sasl_new(&a, error_r)) == 0) {
	r = -1;
    } else {
	r = auth_sasl_start(s, "PLAIN", b64, out, error_r);
	if (r == AUTH_SASL_OK)
	    *login_r = mr_strdup(auth_sasl_username(s));
	r = r == AUTH_SASL_OK ? 1 : r == AUTH_SASL_FAIL || r == AUTH_SASL_BADB64 ? 0 : -1;
	auth_sasl_free(&s);
    }
    memset(b64, 0, strlen(b64));
    mr_free(b64);
    str_free(&out);
    return r;
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

/* pop3d_auth_check - see pop3d.h */
int pop3d_auth_check(const char *user, const char *pass, pop3d_user_t *u, const char **error_r)
{
    char *login = NULL;
    int r;

    if (auth_open_error) {
	*error_r = auth_open_error;
	return -1;
    }
    if ((r = password_check(user, pass, &login, error_r)) <= 0)
	return r;
    u->name = login;
    if ((r = mailbox_of(login, u, error_r)) == 0)
	*error_r = "the password is right but virtual_mailbox_maps has no mailbox";
    return r > 0 ? 1 : -1;
}

/* pop3d_user_free - release the strings of *u */
void pop3d_user_free(pop3d_user_t *u)
{
    mr_free(u->name);
    mr_free(u->maildir);
    u->name = u->maildir = NULL;
}
