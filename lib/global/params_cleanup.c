/*
 * params_cleanup.c - parameters of the cleanup part of the system
 * (queue files, cleanup, pickup).
 */
#include "config.h"

const param_def_t params_cleanup[] = {
    /* queue layout (lib/queue/qfile.c) */
    {"hash_queue_names", "incoming, active, deferred, hold, defer, bounce", 0, 0},
    {"hash_queue_depth", "1", 0, 0},
    /* cleanup limits (message_size_limit is declared in params_smtpd.c) */
    {"header_size_limit", "102400", 0, 0},
    {"virtual_alias_recursion_limit", "1000", 0, 0},
    {"virtual_alias_expansion_limit", "1000", 0, 0},
    /* address rewriting in cleanup */
    {"canonical_maps", "", 0, 0},
    {"sender_canonical_maps", "", 0, 0},
    {"recipient_canonical_maps", "", 0, 0},
    {0, 0, 0, 0},
};
