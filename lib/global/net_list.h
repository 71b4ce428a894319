/*
 * net_list.h - is a client's numeric address in a list of networks?
 *
 * The grammar of every network-list parameter (mynetworks,
 * smtpd_client_event_limit_exceptions, smtpd_tls_auth_only_exceptions,
 * filterd_client_networks): words separated by blanks or commas, each
 * an address or address/prefix, IPv6 optionally in brackets
 * ("127.0.0.0/8", "[::1]/128", "10.1.2.3"). Other words (host names,
 * tables) match nothing and are warned about.
 */
#ifndef MR_NET_LIST_H
#define MR_NET_LIST_H

/* net_list_match - 1 if addr (numeric) is in list, else 0; an address
 * that does not parse is in no list */
int net_list_match(const char *addr, const char *list);

#endif
