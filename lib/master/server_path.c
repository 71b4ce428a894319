/*
 * server_path.c - paths under the queue directory, chrooted or not.
 *
 * A daemon that chroots into queue_directory must open "private/cleanup"
 * as "/private/cleanup"; one that does not, as
 * "$queue_directory/private/cleanup". The skeleton records which applies.
 */
#include <stdio.h>

#include "global/config.h"
#include "master/mail_server.h"
#include "util/str.h"

static int server_is_chrooted;
static int server_is_stand_alone;

/* server_set_stand_alone - the skeleton says it runs without master (-S) */
void    server_set_stand_alone(int yes)
{
    server_is_stand_alone = yes;
}

/* server_stand_alone - running without master (-S)? */
int     server_stand_alone(void)
{
    return server_is_stand_alone;
}

/* server_set_chrooted - the skeleton says whether it chrooted */
void    server_set_chrooted(int yes)
{
    server_is_chrooted = yes;
}

int     server_chrooted(void)
{
    return server_is_chrooted;
}

const char *server_queue_path(const char *relative)
{
    static char path[4096];

    if (server_is_chrooted)
	snprintf(path, sizeof(path), "/%s", relative);
    else
	snprintf(path, sizeof(path), "%s/%s", config_str("queue_directory"), relative);
    return path;
}
