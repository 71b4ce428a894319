/*
 * params_filter.c - parameters of content filtering: the clamd client
 * (docs/mailroom-scan.md).
 */
#include <limits.h>

#include "config.h"

const param_def_t params_filter[] = {
    /* clamd's Unix socket (its LocalSocket) */
    PARAM_STR("clamd_socket", "/run/clamav/clamd.ctl", NULL),
    /* how long the connect and each read or write to clamd may take */
    PARAM_TIME("clamd_timeout", "60s", 1, 3600, NULL),
    /* the largest message sent to clamd; keep it at or below clamd's
     * StreamMaxLength: a larger message is "too long", not scanned */
    PARAM_SIZE("clamd_max_size", "25m", 1, LLONG_MAX, NULL),
    PARAM_END,
};
