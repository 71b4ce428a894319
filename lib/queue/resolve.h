/*
 * resolve.h - where a recipient goes: transport and next hop (qmgr's
 * address resolution, the rules of Postfix's trivial-rewrite).
 *
 * In order:
 *   1. transport_maps, looked up with the full address, then the domain,
 *      then ".parent" for each parent domain, then "*". The value is
 *      "transport:nexthop" ("lmtp:unix:/run/lmtp", "smtp:[mx.example]:2525",
 *      "local:", ":[relay.example]"); an empty transport means the class
 *      default below, an empty nexthop the recipient's domain.
 *   2. the domain's class:
 *        mydestination (or no domain)   local_transport    (local)
 *        virtual_mailbox_domains        virtual_transport  (local)
 *        relay_domains                  relay_transport    (smtp)
 *        anything else                  default_transport  (smtp), next
 *                                       hop $relayhost when set
 *      The next hop is the domain unless said otherwise.
 * Domains compare case-insensitively; the result's nexthop is lower case
 * unless it came from a table.
 */
#ifndef MR_RESOLVE_H
#define MR_RESOLVE_H

#include "util/str.h"

#define RESOLVE_CLASS_LOCAL 1
#define RESOLVE_CLASS_VIRTUAL 2
#define RESOLVE_CLASS_RELAY 3
#define RESOLVE_CLASS_DEFAULT 4

typedef struct resolve_reply {
    str_t *transport;
    str_t *nexthop;
    int class; /* RESOLVE_CLASS_* */
} resolve_reply_t;

/* resolve_init - open transport_maps (privileged pre-init): 0 ok, -1
 * with *error_r (callers then treat every lookup as a temporary error) */
int resolve_init(const char **error_r);
/* resolve_reply_init / resolve_reply_free - the reply's strings */
void resolve_reply_init(resolve_reply_t *r);
void resolve_reply_free(resolve_reply_t *r);
/* resolve_addr - 0 with the reply filled, -1 on a table error (*error_r:
 * try again later) */
int resolve_addr(const char *addr, resolve_reply_t *r, const char **error_r);
/* resolve_class_name - "local", "virtual", "relay", "default" */
const char *resolve_class_name(int class);

#endif
