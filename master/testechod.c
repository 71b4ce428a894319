/*
 * testechod - a test helper, not a mail service: echoes lines back.
 *
 * Used by tests/integration/test_master.py to exercise master and the
 * single-server skeleton without depending on the real daemons. For
 * each line the client sends it answers "echo: LINE"; the line "pid"
 * gets the server's pid, "quit" ends the session. Input is untrusted
 * and bounded (1000 bytes a line). Runs as mail_owner (-u), may chroot.
 * Reads no parameters beyond the skeleton's.
 *
 * Start-up hold: while a file named "testechod.hold" exists in the
 * configuration directory, a new process logs "held at start-up" once
 * and waits (as root, before the privilege drop) until the file is gone,
 * so a test can keep processes in their start-up as long as it likes.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "master/mail_server.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "util/stream.h"

/* echo_hold - wait while the hold file exists */
static void echo_hold(const char *service)
{
    char *path = mr_format("%s/testechod.hold", config_dir());
    struct stat st;

    if (stat(path, &st) == 0)
	msg_info("held at start-up");
    while (stat(path, &st) == 0)
	usleep(20 * 1000);
    mr_free(path);
}

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
    static const server_params_t params = {.service = echo_service, .pre_init = echo_hold};

    return single_server_main(argc, argv, &params);
}
