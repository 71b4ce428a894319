/*
 * mail_queue.c - paths under the queue directory, chrooted or not.
 *
 * A daemon that chroots into queue_directory must open "private/cleanup"
 * as "/private/cleanup"; one that does not, and every command, as
 * "$queue_directory/private/cleanup". The server skeleton records which
 * applies after it chrooted; everything else asks here.
 */
#include <stdio.h>

#include "config.h"
#include "mail_queue.h"

static int mail_queue_is_chrooted;

void mail_queue_set_chrooted(int yes)
{
    mail_queue_is_chrooted = yes;
}

int mail_queue_chrooted(void)
{
    return mail_queue_is_chrooted;
}

const char *mail_queue_path(const char *relative)
{
    static char path[4096];

    if (mail_queue_is_chrooted)
	snprintf(path, sizeof(path), "/%s", relative);
    else
	snprintf(path, sizeof(path), "%s/%s", config_str("queue_directory"), relative);
    return path;
}
