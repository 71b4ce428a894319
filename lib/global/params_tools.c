/*
 * params_tools.c - parameters of the user and admin commands (sendmail,
 * mailroom-postdrop, mailroom-queue).
 */
#include <limits.h>

#include "config.h"

const param_def_t params_tools[] = {
    /* configuration directories that the setgid mailroom-postdrop accepts
     * from an ordinary user (-c or MAILROOM_CONFIG_DIR); read only from
     * the default configuration directory */
    PARAM_LIST("alternate_config_directories", "", NULL),
    /* how long mailroom-postdrop waits for input from sendmail */
    PARAM_TIME("postdrop_input_timeout", "3600s", 1, INT_MAX, NULL),
    PARAM_END,
};
