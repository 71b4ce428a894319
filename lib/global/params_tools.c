/*
 * params_tools.c - parameters of the tools part of the system.
 */
#include "config.h"

const param_def_t params_tools[] = {
    {0, 0, 0, 0},
};
