/*
 * testechod - a test helper, not a mail service: echoes lines back.
 *
 * Used by tests/integration/test_master.py to exercise master and the
 * single-server skeleton without depending on the real daemons. For
 * each line the client sends it answers "echo: LINE"; the line "pid"
 * gets the server's pid, "quit" ends the session. Input is untrusted
 * and bounded (1000 bytes a line). Runs as mail_owner (-u), may chroot.
 * Reads no parameters beyond the skeleton's.
 */
#include <string.h>
#include <unistd.h>

#include "master/mail_server.h"
#include "util/msg.h"
#include "util/str.h"
#include "util/stream.h"

/* echo_service - serve one client */
static void echo_service(stream_t *client, const char *service)
{
    str_t *line = str_new(100);

    msg_info("connect from %s", server_client_addr());
    while (str_reset(line), stream_read_line(client, line, 1000) == STREAM_LINE) {
	str_truncate(line, strcspn(str_data(line), "\r\n"));
	if (strcmp(str_data(line), "quit") == 0)
	    break;
	if (strcmp(str_data(line), "pid") == 0)
	    stream_printf(client, "pid: %ld\n", (long)getpid());
	else
	    stream_printf(client, "echo: %s\n", str_data(line));
	if (stream_flush(client) < 0)
	    break;
    }
    msg_info("disconnect from %s", server_client_addr());
    str_free(&line);
}

int main(int argc, char **argv)
{
    static const server_params_t params = {.service = echo_service};

    return single_server_main(argc, argv, &params);
}
