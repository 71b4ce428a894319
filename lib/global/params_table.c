/*
 * params_table.c - parameters of the table part of the system.
 *
 * proxy_read_maps: the tables tabled may serve. The word "*_maps" stands
 * for the value of every parameter whose name ends in _maps; of those,
 * only the entries written proxy:TYPE:NAME count (as in Postfix).
 */
#include <limits.h>

#include "config.h"

const param_def_t params_table[] = {
    PARAM_LIST("proxy_read_maps", "*_maps", NULL),
    PARAM_TIME("table_ipc_timeout", "30s", 1, INT_MAX, NULL),
    PARAM_SIZE("berkeley_db_read_buffer_size", "256m", 0, LLONG_MAX, NULL),
    PARAM_SIZE("berkeley_db_create_buffer_size", "64m", 0, LLONG_MAX, NULL),
    PARAM_END,
};
