/*
 * params_qmgr.c - parameters of the qmgr part of the system: address
 * resolution, scheduling, retries, bounces (docs/qmgr.md).
 */
#include "config.h"

const param_def_t params_qmgr[] = {
    /* address resolution (lib/queue/resolve.c) */
    PARAM_TABLE("transport_maps", "", NULL),
    PARAM_STR("local_transport", "local", NULL),
    PARAM_STR("virtual_transport", "local", NULL),
    PARAM_STR("relay_transport", "smtp", NULL),
    PARAM_STR("default_transport", "smtp", NULL),
    PARAM_STR("relayhost", "", NULL),
    PARAM_STR("content_filter", "", NULL),
    /* scheduling */
    PARAM_INT("qmgr_message_active_limit", "20000", 1, 10000000, NULL),
    PARAM_INT("in_flow_limit", "25", 1, 60000, NULL),
    PARAM_TIME("in_flow_hold_time", "10s", 1, 86400, NULL),
    PARAM_INT("initial_destination_concurrency", "5", 1, 1000, NULL),
    PARAM_INT("default_destination_concurrency_limit", "20", 1, 1000, NULL),
    PARAM_INT("default_destination_recipient_limit", "50", 1, 200, NULL),
    /* per transport (qmgr_sched.c): a transport without its own pair
     * uses the default_ ones. local: one recipient per destination, so
     * the destination is the mailbox, and two deliveries to it at once */
    PARAM_INT("local_destination_concurrency_limit", "2", 1, 1000, NULL),
    PARAM_INT("local_destination_recipient_limit", "1", 1, 200, NULL),
    /* messages for one destination that one local process takes in one
     * connection, its Maildir names flushed once for all (only for
     * agents that read batches: not declared for smtp, lmtp) */
    PARAM_INT("local_destination_batch_limit", "20", 1, 100, NULL),
    PARAM_INT("smtp_destination_concurrency_limit", "$default_destination_concurrency_limit", 1,
	      1000, NULL),
    PARAM_INT("smtp_destination_recipient_limit", "$default_destination_recipient_limit", 1, 200,
	      NULL),
    PARAM_INT("lmtp_destination_concurrency_limit", "$default_destination_concurrency_limit", 1,
	      1000, NULL),
    PARAM_INT("lmtp_destination_recipient_limit", "$default_destination_recipient_limit", 1, 200,
	      NULL),
    PARAM_TIME("delivery_time_limit", "3600s", 1, 86400 * 7, NULL),
    /* retries */
    PARAM_TIME("queue_run_delay", "300s", 1, 86400, NULL),
    PARAM_TIME("minimal_backoff_time", "300s", 1, 86400 * 30, NULL),
    PARAM_TIME("maximal_backoff_time", "4000s", 1, 86400 * 30, NULL),
    PARAM_TIME("maximal_queue_lifetime", "5d", 0, 86400 * 100, NULL),
    PARAM_TIME("bounce_queue_lifetime", "5d", 0, 86400 * 100, NULL),
    PARAM_TIME("delay_warning_time", "0h", 0, 86400 * 100, NULL),
    /* notices */
    PARAM_STR("bounce_notice_recipient", "postmaster", NULL),
    PARAM_STR("double_bounce_sender", "double-bounce", NULL),
    PARAM_SIZE("bounce_size_limit", "50000", 1, 1 << 30, NULL),
    PARAM_STR("mail_name", "Mailroom", NULL),
    PARAM_END,
};
