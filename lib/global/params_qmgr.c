/*
 * params_qmgr.c - parameters of the qmgr part of the system.
 */
#include "config.h"

const param_def_t params_qmgr[] = {
    PARAM_END,
};
