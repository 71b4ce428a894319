/*
 * event_attr.c - attribute-list request servers on the event skeleton
 * (see event_attr.h). Requests may be pipelined: every request a chunk
 * of input completes is answered, and the replies go out in one write.
 */
#include "global/mail_proto.h"
#include "master/event_attr.h"
#include "util/msg.h"

static str_t *event_attr_out; /* replies to one chunk of input */

/* event_attr_buf - the shared reply buffer, empty */
static str_t *event_attr_buf(void)
{
    if (event_attr_out == NULL)
	event_attr_out = str_new(1024);
    str_reset(event_attr_out);
    return event_attr_out;
}

void event_attr_init(event_attr_t *ea)
{
    attr_parser_init(&ea->parser);
    ea->req = attr_list_new();
}

void event_attr_done(event_attr_t *ea)
{
    attr_parser_done(&ea->parser);
    attr_list_free(&ea->req);
}

void event_attr_greet(event_conn_t *conn, const char *protocol)
{
    str_t *out = event_attr_buf();

    attr_format_args(out, MAIL_ATTR_PROTOCOL, protocol, (char *)NULL);
    (void)event_conn_write(conn, str_data(out), str_len(out));
}

void event_attr_input(event_conn_t *conn, event_attr_t *ea, const char *buf, size_t len,
		      event_attr_fn answer)
{
    str_t *out = event_attr_buf();
    size_t used;
    int r = ATTR_PARSE_MORE;

    while (len > 0 && (r = attr_parse(&ea->parser, ea->req, buf, len, &used)) == ATTR_PARSE_DONE) {
	answer(conn, ea->req, out);
	buf += used;
	len -= used;
    }
    if (str_len(out) > 0)
	(void)event_conn_write(conn, str_data(out), str_len(out));
    if (r == ATTR_PARSE_ERROR) {
	msg_warn("client %s: %s", event_conn_addr(conn), ea->parser.error);
	event_conn_close(conn);
    }
}
