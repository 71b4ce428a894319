/*
 * testeventd - a test helper, not a mail service: an echo server on the
 * event skeleton, many clients per process.
 *
 * Used by tests/integration/test_master.py to exercise master and
 * event_server.c without the real daemons. For each line a client sends
 * it answers "echo: LINE"; "pid" gets the server's pid, "clients" the
 * number of clients this process serves, "quit" ends the session. A
 * line is bounded (1000 bytes; a longer one gets "error: line too long"
 * and the connection ends). With a service name starting with "trig"
 * (-n trig...) it runs in trigger mode instead and logs each wake-up as
 * "trigger: N bytes". Input is untrusted. Runs as mail_owner (-u).
 * Reads no parameters beyond the skeleton's.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "master/mail_server.h"
#include "util/msg.h"
#include "util/str.h"

#define ECHO_MAX_LINE 1000

/* echo_open - a new client: a line buffer */
static void echo_open(event_conn_t *conn, const char *service)
{
    msg_info("connect from %s", event_conn_addr(conn));
    event_conn_set_context(conn, str_new(100));
}

/* echo_reply - answer one complete line */
static void echo_reply(event_conn_t *conn, const char *line)
{
    char buf[ECHO_MAX_LINE + 20];

    if (strcmp(line, "quit") == 0) {
	event_conn_close(conn);
	return;
    }
    if (strcmp(line, "pid") == 0)
	snprintf(buf, sizeof(buf), "pid: %ld\n", (long)getpid());
    else if (strcmp(line, "clients") == 0)
	snprintf(buf, sizeof(buf), "clients: %d\n", event_server_clients());
    else
	snprintf(buf, sizeof(buf), "echo: %s\n", line);
    (void)event_conn_write(conn, buf, strlen(buf));
}

/* echo_input - split input into lines, keeping a partial one */
static void echo_input(event_conn_t *conn, const char *buf, size_t len)
{
    str_t *line = event_conn_context(conn);
    static const char too_long[] = "error: line too long\n";

    for (size_t i = 0; i < len; i++) {
	if (buf[i] != '\n') {
	    if (str_len(line) >= ECHO_MAX_LINE) {
		(void)event_conn_write(conn, too_long, sizeof(too_long) - 1);
		event_conn_close(conn);
		return;
	    }
	    str_appendc(line, buf[i]);
	    continue;
	}
	str_truncate(line, strcspn(str_data(line), "\r"));
	echo_reply(conn, str_data(line));
	str_reset(line);
    }
}

/* echo_close - the client is gone */
static void echo_close(event_conn_t *conn)
{
    str_t *line = event_conn_context(conn);

    msg_info("disconnect from %s", event_conn_addr(conn));
    str_free(&line);
}

/* echo_trigger - trigger mode: log the wake-up */
static void echo_trigger(const char *buf, size_t len, const char *service)
{
    msg_info("trigger: %zu bytes", len);
}

int main(int argc, char **argv)
{
    static const server_params_t echo_params = {
	.conn_open = echo_open,
	.conn_input = echo_input,
	.conn_close = echo_close,
    };
    static const server_params_t trig_params = {.trigger = echo_trigger};

    for (int i = 1; i + 1 < argc; i++)
	if (strcmp(argv[i], "-n") == 0 && strncmp(argv[i + 1], "trig", 4) == 0)
	    return event_server_main(argc, argv, &trig_params);
    return event_server_main(argc, argv, &echo_params);
}
