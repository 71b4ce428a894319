/*
 * params_master.c - parameters of master and of the server skeletons.
 *
 * default_chroot shows how compatibility_level works: below level 1 a
 * "-" in the chroot column of master.conf means "y" (the old default);
 * from level 1 on it means "n", because a chrooted daemon needs copies
 * of files such as /etc/resolv.conf and /etc/localtime in the queue
 * directory, which a new installation rarely has.
 */
#include <limits.h>

#include "config.h"
#include "mail_params.h"

int var_max_use;
int var_max_idle;

const param_def_t params_master[] = {
    /* skeletons: a child serves at most max_use clients (0: no limit),
     * and exits after max_idle seconds without one */
    PARAM_INT("max_use", "100", 0, 1000000, &var_max_use),
    PARAM_TIME("max_idle", "100s", 1, INT_MAX, &var_max_idle),
    /* master: "-" in the maxproc column */
    PARAM_INT("default_process_limit", "100", 0, 100000, NULL),
    /* master: "-" in the chroot column */
    PARAM_BOOL("default_chroot", "no", NULL, .compat_level = 1, .old_def = "yes"),
    /* master: how long a service that keeps failing is left alone */
    PARAM_TIME("service_throttle_time", "60s", 1, INT_MAX, NULL),
    /* master: consecutive abnormal exits before a service is throttled */
    PARAM_INT("service_failure_limit", "3", 1, 1000, NULL),
    /* master: how long to wait for children after SIGTERM before SIGKILL */
    PARAM_TIME("master_stop_timeout", "5s", 0, 3600, NULL),
    PARAM_END,
};
