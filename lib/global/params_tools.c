/*
 * params_tools.c - parameters of the user and admin commands (sendmail,
 * mailroom-postdrop, mailroom-queue).
 */
#include "config.h"

const param_def_t params_tools[] = {
    /* configuration directories that the setgid mailroom-postdrop accepts
     * from an ordinary user (-c or MAILROOM_CONFIG_DIR); read only from
     * the default configuration directory */
    {"alternate_config_directories", "", 0, 0},
    /* how long mailroom-postdrop waits for input from sendmail */
    {"postdrop_input_timeout", "3600s", 0, 0},
    {0, 0, 0, 0},
};
