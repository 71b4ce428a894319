/*
 * params_anvil.c - parameters of anvil, the session count and rate
 * server, and of its clients (docs/anvil.md).
 */
#include <limits.h>

#include "config.h"

const param_def_t params_anvil[] = {
    /* the window over which connection and message rates are counted */
    PARAM_TIME("anvil_rate_time_unit", "60s", 1, 86400, NULL),
    /* how often anvil logs the highest counts it saw */
    PARAM_TIME("anvil_status_update_time", "600s", 1, 86400, NULL),
    /* how long a client (smtpd) waits for anvil before it goes on
     * without counting */
    PARAM_TIME("anvil_ipc_timeout", "10s", 1, 3600, NULL),
    PARAM_END,
};
