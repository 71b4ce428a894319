/*
 * params_local.c - parameters of the local delivery agent. Names follow
 * Postfix where Postfix has the same knob; docs/local.md explains each.
 */
#include <limits.h>

#include "config.h"
#include "mail_params.h"

int var_command_time_limit;
int var_deliver_lock_attempts;
int var_deliver_lock_delay;
int var_stale_lock_time;
int var_virtual_minimum_uid;
int var_local_child_idle_time;
int var_local_child_time_limit;

const param_def_t params_local[] = {
    /* mailbox of a system user, relative to the home directory: ends in
     * "/" for a Maildir, else an mbox file; empty: mbox in
     * mail_spool_directory */
    PARAM_STR("home_mailbox", "Maildir/", NULL),
    PARAM_STR("mail_spool_directory", "/var/mail", NULL),
    /* where "|command" and "/file" destinations are honoured: any of
     * alias, forward, include */
    PARAM_LIST("allow_mail_to_commands", "alias, forward", NULL),
    PARAM_LIST("allow_mail_to_files", "alias, forward", NULL),
    /* longest a "|command" delivery may run */
    PARAM_TIME("command_time_limit", "1000s", 1, INT_MAX, &var_command_time_limit),
    /* user for commands and files of root-owned aliases and includes */
    PARAM_STR("default_privs", "nobody", NULL),
    /* mbox locking: tries, pause between tries, age of a stale dot-lock */
    PARAM_INT("deliver_lock_attempts", "20", 1, 1000, &var_deliver_lock_attempts),
    PARAM_TIME("deliver_lock_delay", "1s", 1, 3600, &var_deliver_lock_delay),
    PARAM_TIME("stale_lock_time", "500s", 1, INT_MAX, &var_stale_lock_time),
    /* owner of virtual mailboxes: per address (tables giving a number),
     * else the fixed virtual_uid/virtual_gid (a number or a name) */
    PARAM_TABLE("virtual_uid_maps", "", NULL),
    PARAM_TABLE("virtual_gid_maps", "", NULL),
    PARAM_STR("virtual_uid", "$mail_owner", NULL),
    PARAM_STR("virtual_gid", "$mail_owner", NULL),
    /* as root, never deliver to a virtual mailbox as a uid below this */
    PARAM_INT("virtual_minimum_uid", "100", 1, INT_MAX, &var_virtual_minimum_uid),
    /* how long a Maildir delivery child, already the mailbox owner, waits
     * for the next delivery to the same uid and gid; 0: a child per
     * delivery */
    PARAM_TIME("local_child_idle_time", "5s", 0, 3600, &var_local_child_idle_time),
    /* how long local waits for that child's answer to one delivery before
     * it kills the child and defers (a child the user stopped) */
    PARAM_TIME("local_child_time_limit", "100s", 1, 86400, &var_local_child_time_limit),
    PARAM_END,
};
