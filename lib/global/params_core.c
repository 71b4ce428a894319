/*
 * params_core.c - parameters every program reads.
 */
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mail_params.h"

int var_debug_level;
int var_ipc_timeout;

/*
 * params_default_hostname - the machine's fully qualified name, as
 * Postfix finds it: gethostname(), and when that has no dot, the
 * canonical name the resolver gives for it, else the name with
 * ".$mydomain" (mydomain as set in mailroom.conf, or "localdomain").
 */
static const char *params_default_hostname(const char *def)
{
    static char name[256];
    struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *res;

    if (gethostname(name, sizeof(name) - 1) < 0 || name[0] == 0)
	return def;
    name[sizeof(name) - 1] = 0;
    if (strchr(name, '.'))
	return name;
    if (getaddrinfo(name, NULL, &hints, &res) == 0) {
	if (res->ai_canonname && strchr(res->ai_canonname, '.'))
	    snprintf(name, sizeof(name), "%s", res->ai_canonname);
	freeaddrinfo(res);
    }
    if (strchr(name, '.') == NULL) {
	const char *domain = config_line("mydomain") ? config_str("mydomain") : "localdomain";
	size_t len = strlen(name);

	snprintf(name + len, sizeof(name) - len, ".%s", domain);
    }
    return name;
}

/* params_default_domain - myhostname without its first label */
static const char *params_default_domain(const char *def)
{
    const char *dot = strchr(config_str("myhostname"), '.');

    return dot && dot[1] ? dot + 1 : def;
}

const param_def_t params_core[] = {
    PARAM_INT("compatibility_level", "0", 0, CONFIG_COMPAT_CURRENT, NULL),
    PARAM_STR("config_directory", DEF_CONFIG_DIR, NULL),
    PARAM_STR("queue_directory", "/var/spool/mailroom", NULL),
    PARAM_STR("daemon_directory", "/usr/lib/mailroom", NULL),
    PARAM_STR("command_directory", "/usr/sbin", NULL),
    PARAM_STR("data_directory", "/var/lib/mailroom", NULL),
    PARAM_STR("mail_owner", "mailroom", NULL),
    PARAM_STR("setgid_group", "mailroom-drop", NULL),
    /* syslog, stderr, or a file name (a comma list of them) */
    PARAM_LIST("maillog_file", "syslog", NULL),
    /* where daemons log when maillog_file says syslog and there is no
     * syslog socket (containers, minimal images) */
    PARAM_STR("maillog_fallback_file", "$data_directory/maillog", NULL),
    /* the first part of each line's tag: "postfix" keeps log tools happy */
    PARAM_STR("syslog_name", "mailroom", NULL),
    /* the machine's fully qualified name; its domain part */
    PARAM_STR("myhostname", "localhost.localdomain", NULL, .def_fn = params_default_hostname),
    PARAM_STR("mydomain", "localdomain", NULL, .def_fn = params_default_domain),
    PARAM_STR("myorigin", "$myhostname", NULL),
    PARAM_LIST("mydestination", "$myhostname, localhost.$mydomain, localhost", NULL,
	       .unique_words = 1),
    PARAM_LIST("mynetworks", "127.0.0.0/8 [::1]/128", NULL),
    PARAM_LIST("relay_domains", "", NULL),
    PARAM_LIST("virtual_mailbox_domains", "", NULL),
    PARAM_TABLE("virtual_mailbox_maps", "", NULL),
    PARAM_TABLE("virtual_alias_maps", "", NULL),
    PARAM_STR("virtual_mailbox_base", "/var/mail/vhosts", NULL),
    /* as Postfix's Debian default; newaliases builds it */
    PARAM_TABLE("alias_maps", "hash:/etc/aliases", NULL),
    PARAM_TABLE("local_recipient_maps", "", NULL),
    PARAM_STR("recipient_delimiter", "+", NULL),
    /* per read or write between two daemons */
    PARAM_TIME("ipc_timeout", "3600s", 1, INT_MAX, &var_ipc_timeout),
    PARAM_INT("debug_level", "0", 0, 10, &var_debug_level),
    PARAM_END,
};
