/*
 * params_master.c - parameters of the master part of the system.
 */
#include "config.h"

const param_def_t params_master[] = {
    {0, 0, 0, 0},
};
