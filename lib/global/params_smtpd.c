/*
 * params_smtpd.c - parameters of the smtpd part of the system.
 */
#include "config.h"

const param_def_t params_smtpd[] = {
    {0, 0, 0, 0},
};
