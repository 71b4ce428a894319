/*
 * smtpd_check.c - who may send mail to whom: relay control and the
 * recipient existence check, answered at RCPT time.
 *
 * Address classes, by the recipient's domain (case-insensitive, trailing
 * dot ignored; an address without a domain counts as local):
 *   mydestination            local: alias_maps, then local_recipient_maps
 *                            if set, else a system user (the local part
 *                            without its extension: getpwnam, or, when
 *                            smtpd runs chrooted and cannot read the
 *                            password file, the list of login names read
 *                            before the chroot);
 *                            "postmaster" is always accepted
 *   virtual_mailbox_domains  virtual_mailbox_maps, then virtual_alias_maps
 *   virtual_alias_domains    virtual_alias_maps
 *   relay_domains            accepted as is
 *   anything else            as smtpd_relay_restrictions say (default:
 *                            mynetworks and authenticated clients),
 *                            else 554 5.7.1 (smtpd_restrict.c)
 * A table that cannot be read gives 451 4.3.0, never acceptance and never
 * a permanent error. Subdomains of the listed domains do not match.
 *
 * mynetworks and smtpd_client_event_limit_exceptions are network lists
 * (lib/global/net_list.h).
 */
#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/config.h"
#include "global/mail_queue.h"
#include "global/net_list.h"
#include "table/table.h"
#include "util/htable.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "smtpd.h"

typedef struct check_map {
    const char *param;
    table_list_t *list;
    char *error; /* why it could not be opened */
} check_map_t;

static check_map_t check_alias = {"alias_maps", 0, 0};
static check_map_t check_local = {"local_recipient_maps", 0, 0};
static check_map_t check_vmailbox = {"virtual_mailbox_maps", 0, 0};
static check_map_t check_valias = {"virtual_alias_maps", 0, 0};
static htable_t *check_users; /* login names, read before a chroot */

/* check_map_open - open one parameter's table list, remembering errors */
static void check_map_open(check_map_t *m)
{
    const char *error = "";

    if ((m->list = table_list_open(config_str(m->param), &error)) == NULL) {
	msg_warn("%s: %s", m->param, error);
	m->error = mr_strdup(error);
    }
}

/* check_users_load - every login name, while the password file can be
 * read (a process lives for max_use clients: the list stays fresh) */
static void check_users_load(void)
{
    struct passwd *pw;

    htable_free(&check_users);
    check_users = htable_new();
    setpwent();
    while ((pw = getpwent()) != NULL)
	htable_put(check_users, pw->pw_name, strlen(pw->pw_name), "", 0);
    endpwent();
}

/* smtpd_check_init - open the recipient tables */
void smtpd_check_init(void)
{
    check_users_load();
    check_map_open(&check_alias);
    check_map_open(&check_local);
    check_map_open(&check_vmailbox);
    check_map_open(&check_valias);
}

/* smtpd_check_mynetworks - is the client in mynetworks? */
int smtpd_check_mynetworks(const char *addr)
{
    return net_list_match(addr, config_str("mynetworks"));
}

/* check_lookup - address lookup in one map: 1 found, 0 not, -1 error */
static int check_lookup(check_map_t *m, const char *addr, int local_too)
{
    str_t *value;
    const char *error = "";
    int r;

    if (m->list == NULL) {
	msg_warn("%s lookup for %s: %s", m->param, addr, m->error);
	return -1;
    }
    if (table_list_empty(m->list))
	return 0;
    value = str_new(64);
    r = table_list_lookup_addr(m->list, addr, config_str("recipient_delimiter"), local_too, value,
			       &error);
    if (r < 0)
	msg_warn("%s lookup for %s: %s", m->param, addr, error);
    str_free(&value);
    return r;
}

/* check_unix_user - is there a system user for this local part? */
static int check_unix_user(const char *local)
{
    const char *delim = config_str("recipient_delimiter");
    char *user = mr_strdup(local);
    size_t n = strlen(user);
    int found;

    for (size_t i = 1; *delim && i < n; i++) {
	if (strchr(delim, user[i])) {
	    user[i] = 0;
	    break;
	}
    }
    lowercase(user);
    if (mail_queue_chrooted())
	found = htable_get(check_users, user, strlen(user), &n) != NULL;
    else
	found = getpwnam(user) != NULL;
    mr_free(user);
    return found;
}

/* check_local_rcpt - recipient in mydestination: 1 known, 0 not, -1 error */
static int check_local_rcpt(const char *local, const char **table_r)
{
    int r;

    if (strcasecmp(local, "postmaster") == 0)
	return 1;
    if ((r = check_lookup(&check_alias, local, 1)) != 0)
	return r;
    if (check_local.list == NULL || !table_list_empty(check_local.list)) {
	*table_r = "local recipient table";
	return check_lookup(&check_local, local, 1);
    }
    *table_r = "local recipient table";
    return check_unix_user(local);
}

/* check_unknown - the 550 or 451 reply for an unknown recipient */
static int check_unknown(str_t *reply, const char *rcpt, int r, const char *table)
{
    if (r < 0)
	str_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", rcpt);
    else
	str_printf(reply, "550 5.1.1 <%s>: Recipient address rejected: User unknown in %s", rcpt,
		   table);
    return SMTPD_CHECK_REJECT;
}

/* smtpd_check_rcpt - relay and recipient policy */
int smtpd_check_rcpt(smtpd_state_t *st, const char *rcpt, str_t *reply)
{
    const char *at = strrchr(rcpt, '@');
    char *domain = mr_strdup(at ? at + 1 : var_myhostname);
    char *local = mr_strndup(rcpt, at ? (size_t)(at - rcpt) : strlen(rcpt));
    const char *table = "";
    char *addr;
    size_t n = strlen(domain);
    int r, ret = SMTPD_CHECK_OK;

    if (n > 0 && domain[n - 1] == '.')
	domain[n - 1] = 0;
    addr = mr_format("%s@%s", local, domain);
    if (at == NULL || config_list_has("mydestination", domain)) {
	if ((r = check_local_rcpt(local, &table)) <= 0)
	    ret = check_unknown(reply, rcpt, r, table);
    } else if (config_list_has("virtual_mailbox_domains", domain)) {
	if ((r = check_lookup(&check_vmailbox, addr, 0)) == 0)
	    r = check_lookup(&check_valias, addr, 0);
	if (r <= 0)
	    ret = check_unknown(reply, rcpt, r, "virtual mailbox table");
    } else if (config_list_has("virtual_alias_domains", domain)) {
	if ((r = check_lookup(&check_valias, addr, 0)) <= 0)
	    ret = check_unknown(reply, rcpt, r, "virtual alias table");
    } else if (!config_list_has("relay_domains", domain) && (r = smtpd_restrict_relay(st)) <= 0) {
	if (r < 0)
	    str_printf(reply, "451 4.3.5 Server configuration error");
	else
	    str_printf(reply, "554 5.7.1 <%s>: Relay access denied", rcpt);
	ret = SMTPD_CHECK_REJECT;
    }
    mr_free(domain);
    mr_free(local);
    mr_free(addr);
    return ret;
}
