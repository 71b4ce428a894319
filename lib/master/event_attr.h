/*
 * event_attr.h - attribute-list request servers on the event skeleton:
 * the per-connection parser, the read-answer-write loop and the
 * protocol handshake that tabled, anvil and the like share.
 */
#ifndef MR_EVENT_ATTR_H
#define MR_EVENT_ATTR_H

#include "master/mail_server.h"
#include "util/attr.h"
#include "util/str.h"

typedef struct event_attr {
    attr_parser_t parser; /* the unfinished request */
    attr_list_t *req;
} event_attr_t;

/* event_attr_fn - answer one complete request: append the reply list to out */
typedef void (*event_attr_fn)(event_conn_t *conn, const attr_list_t *req, str_t *out);

/* event_attr_init, event_attr_done - a connection's parser state */
void event_attr_init(event_attr_t *ea);
void event_attr_done(event_attr_t *ea);
/* event_attr_greet - send the handshake "protocol=NAME" */
void event_attr_greet(event_conn_t *conn, const char *protocol);
/* event_attr_input - feed input (from conn_input): answer every request
 * it completes, all replies in one write. A malformed or over-long
 * request is logged and ends the connection. */
void event_attr_input(event_conn_t *conn, event_attr_t *ea, const char *buf, size_t len,
		      event_attr_fn answer);

#endif
