/*
 * params.c - the list of parameter tables, one per area of the system.
 */
#include <stddef.h>

#include "config.h"

const param_def_t *const params_all[] = {
    params_core,   params_master, params_table, params_smtpd, params_cleanup,
    params_qmgr,   params_tools,  params_tls,   params_local, params_anvil,
    params_filter, params_pop3d,  params_smtp,  params_store, NULL,
};
