/*
 * mail_params.h - variables that config_fill sets from mailroom.conf.
 *
 * Each is declared with its parameter in lib/global/params_*.c (name,
 * type, default, limits, variable). The server skeleton calls
 * config_fill before pre_init, so a daemon reads var_* instead of
 * parsing the value again; master and the commands call it after
 * config_load.
 */
#ifndef MR_MAIL_PARAMS_H
#define MR_MAIL_PARAMS_H

/* params_core.c */
extern int var_debug_level; /* debug_level */
extern int var_ipc_timeout; /* ipc_timeout, seconds */

/* params_master.c */
extern int var_max_use;  /* max_use, 0: no limit */
extern int var_max_idle; /* max_idle, seconds */

/* params_local.c */
extern int var_command_time_limit;     /* command_time_limit, seconds */
extern int var_deliver_lock_attempts;  /* deliver_lock_attempts */
extern int var_deliver_lock_delay;     /* deliver_lock_delay, seconds */
extern int var_stale_lock_time;        /* stale_lock_time, seconds */
extern int var_virtual_minimum_uid;    /* virtual_minimum_uid */
extern int var_local_child_idle_time;  /* local_child_idle_time, seconds */
extern int var_local_child_time_limit; /* local_child_time_limit, seconds */

/* params_pop3d.c */
extern int var_pop3d_timeout;            /* pop3d_timeout, seconds */
extern int var_pop3d_login_timeout;      /* pop3d_login_timeout, seconds */
extern int var_pop3d_error_limit;        /* pop3d_error_limit */
extern int var_pop3d_auth_failure_delay; /* pop3d_auth_failure_delay, seconds */

/* params_store.c */
extern long long var_mailbox_quota;    /* mailbox_quota, bytes */
extern int var_mailbox_quota_messages; /* mailbox_quota_messages */

#endif
