/*
 * params_cleanup.c - parameters of the cleanup part of the system.
 */
#include "config.h"

const param_def_t params_cleanup[] = {
    {0, 0, 0, 0},
};
