/*
 * params_table.c - parameters of the table part of the system.
 */
#include "config.h"

const param_def_t params_table[] = {
    {0, 0, 0, 0},
};
