/*
 * params_core.c - parameters every program reads.
 */
#include "config.h"

const param_def_t params_core[] = {
    {"compatibility_level", "0", 0, 0},
    {"config_directory", DEF_CONFIG_DIR, 0, 0},
    {"queue_directory", "/var/spool/mailroom", 0, 0},
    {"daemon_directory", "/usr/lib/mailroom", 0, 0},
    {"command_directory", "/usr/sbin", 0, 0},
    {"data_directory", "/var/lib/mailroom", 0, 0},
    {"mail_owner", "mailroom", 0, 0},
    {"setgid_group", "mailroom-drop", 0, 0},
    {"maillog_file", "syslog", 0, 0},
    {"myhostname", "localhost.localdomain", 0, 0},
    {"mydomain", "localdomain", 0, 0},
    {"myorigin", "$myhostname", 0, 0},
    {"mydestination", "$myhostname, localhost.$mydomain, localhost", 0, 0},
    {"mynetworks", "127.0.0.0/8 [::1]/128", 0, 0},
    {"relay_domains", "", 0, 0},
    {"virtual_mailbox_domains", "", 0, 0},
    {"virtual_mailbox_maps", "", 0, 0},
    {"virtual_alias_maps", "", 0, 0},
    {"virtual_mailbox_base", "/var/mail/vhosts", 0, 0},
    {"alias_maps", "", 0, 0},
    {"local_recipient_maps", "", 0, 0},
    {"recipient_delimiter", "+", 0, 0},
    {"ipc_timeout", "3600s", 0, 0},
    {"debug_level", "0", 0, 0},
    {0, 0, 0, 0},
};
