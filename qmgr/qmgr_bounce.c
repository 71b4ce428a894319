/*
 * qmgr_bounce.c - notices to the sender (not yet: placeholder).
 */
#include "qmgr.h"

/* qmgr_bounce_flush - nothing to send yet */
int     qmgr_bounce_flush(qmgr_message_t *msg)
{
    return 0;
}

/* qmgr_bounce_delay_warning - not yet */
void    qmgr_bounce_delay_warning(qmgr_message_t *msg)
{
    msg->warned = 1;
}
