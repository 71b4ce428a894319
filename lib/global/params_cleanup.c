/*
 * params_cleanup.c - parameters of the cleanup part of the system
 * (queue files, cleanup, pickup).
 */
#include "config.h"

const param_def_t params_cleanup[] = {
    /* queue layout (lib/queue/qid.c) */
    PARAM_LIST("hash_queue_names", "incoming, active, deferred, hold, defer, bounce", NULL),
    PARAM_INT("hash_queue_depth", "1", 0, 4, NULL),
    /* queue files reserved ahead of use by cleanup (lib/queue/qfile_pool.c) */
    PARAM_INT("queue_reservation_limit", "16", 1, 1024, NULL),
    PARAM_TIME("queue_reservation_max_age", "2s", 0, 3600, NULL),
    PARAM_TIME("queue_sweep_interval", "1h", 0, 100000000, NULL),
    /* finished queue files kept for reuse (lib/queue/qfile_recycle.c) */
    PARAM_INT("queue_recycle_limit", "1000", 0, 100000, NULL),
    /* flow control: cleanup, smtpd and pickup (global/mail_flow.h) */
    PARAM_TIME("in_flow_delay", "1s", 0, 10, NULL),
    /* cleanup limits (message_size_limit is declared in params_smtpd.c) */
    PARAM_SIZE("header_size_limit", "102400", 1, 1 << 30, NULL),
    PARAM_INT("virtual_alias_recursion_limit", "1000", 1, 100000, NULL),
    PARAM_INT("virtual_alias_expansion_limit", "1000", 1, 1000000, NULL),
    /* address rewriting in cleanup */
    PARAM_TABLE("canonical_maps", "", NULL),
    PARAM_TABLE("sender_canonical_maps", "", NULL),
    PARAM_TABLE("recipient_canonical_maps", "", NULL),
    /* blind copies added by cleanup */
    PARAM_STR("always_bcc", "", NULL),
    PARAM_TABLE("sender_bcc_maps", "", NULL),
    PARAM_TABLE("recipient_bcc_maps", "", NULL),
    PARAM_END,
};
