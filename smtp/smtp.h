/*
 * smtp.h - the smtp/lmtp delivery agent's internal interfaces: the state
 * of one request and the list of destinations a next hop resolves to.
 */
#ifndef MR_SMTP_H
#define MR_SMTP_H

#include <stddef.h>

#include "queue/deliver_request.h"
#include "util/str.h"

/* One place to connect to */
typedef struct smtp_dest {
    char *host;    /* name (SNI, logs) */
    char *connect; /* "addr:port", "[v6]:port", "unix:/path" */
    char *relay;   /* for logs: "host[addr]:port", "/path" */
} smtp_dest_t;

typedef struct smtp_dest_list {
    smtp_dest_t *dests; /* in the order to try */
    size_t count;
} smtp_dest_list_t;

/* The state of one request */
typedef struct smtp_state {
    deliver_request_t *req;
    int lmtp;
    const char *helo;
    int connect_timeout;
    int reply_timeout;
    int no_downgrade; /* disable_mime_output_conversion */
    str_t *why;       /* why the last destination failed */
    char dsn[16];
} smtp_state_t;

/* smtp_dest_init - read the resolver parameters (before the chroot) */
void smtp_dest_init(void);
/* smtp_dest_resolve - the destinations of a next hop ("[host]:port",
 * "[host]", "host:port", "domain", "unix:/path"), MX hosts in preference
 * order. NULL with *error_r and *dsn_r (4.x.x: try later, 5.x.x: the
 * domain cannot receive mail) when there are none. */
smtp_dest_list_t *smtp_dest_resolve(const char *nexthop, int lmtp, const char **dsn_r,
				    const char **error_r);
/* smtp_dest_free - free a list; sets *dlp to NULL */
void smtp_dest_free(smtp_dest_list_t **dlp);

#endif
