/*
 * params_core.c - parameters every program reads.
 */
#include <limits.h>

#include "config.h"
#include "mail_params.h"

int     var_debug_level;
int     var_ipc_timeout;

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
    PARAM_STR("myhostname", "localhost.localdomain", NULL),
    PARAM_STR("mydomain", "localdomain", NULL),
    PARAM_STR("myorigin", "$myhostname", NULL),
    PARAM_LIST("mydestination", "$myhostname, localhost.$mydomain, localhost", NULL),
    PARAM_LIST("mynetworks", "127.0.0.0/8 [::1]/128", NULL),
    PARAM_LIST("relay_domains", "", NULL),
    PARAM_LIST("virtual_mailbox_domains", "", NULL),
    PARAM_TABLE("virtual_mailbox_maps", "", NULL),
    PARAM_TABLE("virtual_alias_maps", "", NULL),
    PARAM_STR("virtual_mailbox_base", "/var/mail/vhosts", NULL),
    PARAM_TABLE("alias_maps", "", NULL),
    PARAM_TABLE("local_recipient_maps", "", NULL),
    PARAM_STR("recipient_delimiter", "+", NULL),
    /* per read or write between two daemons */
    PARAM_TIME("ipc_timeout", "3600s", 1, INT_MAX, &var_ipc_timeout),
    PARAM_INT("debug_level", "0", 0, 10, &var_debug_level),
    PARAM_END,
};
