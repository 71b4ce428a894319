/*
 * test_queue_client.c - the cleanup client against a fake cleanup: the
 * records it sends, the verdict it reports, and CLEANUP_STAT_TEMP when
 * cleanup dies in mid-message.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "global/mail_proto.h"
#include "queue/cleanup_client.h"
#include "queue/record.h"
#include "util/attr.h"
#include "util/sock.h"
#include "util/stream.h"

#define FAKE_ANSWER 0 /* read to END, answer status 0 */
#define FAKE_DIE 1    /* exit after the handshake: the client buffers the flags until its records */

/* fake_serve - one client: handshake, then behave as told */
static void fake_serve(int lfd, int how)
{
    int fd = accept(lfd, NULL, NULL);
    stream_t *s = stream_open(fd);
    attr_list_t *l = attr_list_new();
    str_t *v = str_new(10);
    const char *why;
    int type, n = 0;
    char count[32];

    attr_send(s, MAIL_ATTR_PROTOCOL, MAIL_PROTO_CLEANUP, MAIL_ATTR_QUEUE_ID, "0ABCDEFGHIJKLMNO",
	      (char *)0);
    if (how == FAKE_DIE || attr_read(s, l) != 1)
	_exit(0);
    while ((type = rec_get(s, v, &why)) > 0 && type != REC_TYPE_END)
	n++;
    snprintf(count, sizeof(count), "%d records, flags %s", n, attr_get(l, MAIL_ATTR_FLAGS));
    attr_send(s, MAIL_ATTR_STATUS, "0", MAIL_ATTR_QUEUE_ID, "0ABCDEFGHIJKLMNO", MAIL_ATTR_REASON,
	      count, (char *)0);
    stream_close(&s);
    _exit(0);
}

/* fake_start - a fake cleanup on private/cleanup; returns its pid */
static pid_t fake_start(int how)
{
    char path[400];
    const char *why;
    int lfd;
    pid_t pid;

    config_override("queue_directory", unit_tmpdir());
    snprintf(path, sizeof(path), "%s/private", unit_tmpdir());
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), MAIL_SOCK_CLEANUP);
    assert_true((lfd = sock_listen_unix(path, 5, 0600, &why)) >= 0);
    if ((pid = fork()) == 0)
	fake_serve(lfd, how);
    close(lfd);
    return pid;
}

/* test_client_ok - records go out, the verdict comes back */
static void test_client_ok(void **state)
{
    pid_t pid = fake_start(FAKE_ANSWER);
    const char *why;
    cleanup_client_t *cc = cleanup_open(CLEANUP_FLAG_LOCAL, &why);
    str_t *reason = str_new(10);

    assert_non_null(cc);
    assert_string_equal(cleanup_queue_id(cc), "0ABCDEFGHIJKLMNO");
    cleanup_attr(cc, "helo", "x");
    cleanup_sender(cc, "s@x");
    cleanup_rcpt(cc, "r@x", "rfc822;r@x", "NEVER");
    cleanup_line(cc, "Subject: x", 10, 1);
    cleanup_line(cc, "ab", 2, 0);
    cleanup_line(cc, "cd", 2, 1);
    assert_false(cleanup_error(cc));
    /* attr sender rcpt orcpt notify mesg 3 lines = 9 before END */
    assert_int_equal(cleanup_finish(&cc, reason), CLEANUP_STAT_OK);
    assert_null(cc);
    assert_string_equal(str_data(reason), "9 records, flags 1");
    waitpid(pid, NULL, 0);
    str_free(&reason);
}

/* test_client_cleanup_dies - a vanished cleanup means TEMP, not OK */
static void test_client_cleanup_dies(void **state)
{
    pid_t pid = fake_start(FAKE_DIE);
    const char *why;
    cleanup_client_t *cc = cleanup_open(0, &why);
    str_t *reason = str_new(10);
    char line[1000];

    assert_non_null(cc);
    waitpid(pid, NULL, 0);
    cleanup_sender(cc, "s@x");
    cleanup_rcpt(cc, "r@x", NULL, NULL);
    memset(line, 'x', sizeof(line));
    for (int i = 0; i < 200; i++)
	cleanup_line(cc, line, sizeof(line), 1);
    assert_int_equal(cleanup_finish(&cc, reason), CLEANUP_STAT_TEMP);
    assert_true(str_len(reason) > 0);
    str_free(&reason);
}

/* test_client_no_server - no socket: cleanup_open fails with a reason */
static void test_client_no_server(void **state)
{
    const char *why = NULL;

    config_override("queue_directory", "/nonexistent-queue");
    assert_null(cleanup_open(0, &why));
    assert_non_null(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_client_ok),
	cmocka_unit_test(test_client_cleanup_dies),
	cmocka_unit_test(test_client_no_server),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
