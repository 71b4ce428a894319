/*
 * params_master.c - parameters of master and of the server skeletons.
 *
 * default_chroot shows how compatibility_level works: below level 1 a
 * "-" in the chroot column of master.conf means "y" (the old default);
 * from level 1 on it means "n", because a chrooted daemon needs copies
 * of files such as /etc/resolv.conf and /etc/localtime in the queue
 * directory, which a new installation rarely has.
 */
#include "config.h"

const param_def_t params_master[] = {
    /* skeletons: a child serves at most max_use clients, and exits after
     * max_idle seconds without one */
    {"max_use", "100", 0, 0},
    {"max_idle", "100s", 0, 0},
    /* master: "-" in the maxproc column */
    {"default_process_limit", "100", 0, 0},
    /* master: "-" in the chroot column */
    {"default_chroot", "no", 1, "yes"},
    /* master: how long a service that keeps failing is left alone */
    {"service_throttle_time", "60s", 0, 0},
    /* master: consecutive abnormal exits before a service is throttled */
    {"service_failure_limit", "3", 0, 0},
    /* master: how long to wait for children after SIGTERM before SIGKILL */
    {"master_stop_timeout", "5s", 0, 0},
    {0, 0, 0, 0},
};
