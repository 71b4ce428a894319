/*
 * test_util_io.c - safe_open, sockets and the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "util/event.h"
#include "util/safe_open.h"
#include "util/sock.h"
#include "util/str.h"

/* test_safe_open_refuses_symlink - a symlink is never followed */
static void test_safe_open_refuses_symlink(void **state)
{
    const char *target = unit_write_file("target", "secret\n");
    char    link_path[512];
    const char *err = NULL;

    snprintf(link_path, sizeof(link_path), "%s/link", unit_tmpdir());
    assert_int_equal(symlink(target, link_path), 0);
    assert_int_equal(safe_open(link_path, O_RDONLY, 0, (uid_t) -1, &err), -1);
    assert_non_null(strstr(err, "link"));
}

/* test_safe_open_refuses_hardlink - a second hard link is suspicious */
static void test_safe_open_refuses_hardlink(void **state)
{
    const char *target = unit_write_file("hl-target", "x\n");
    char    other[512];
    const char *err = NULL;

    snprintf(other, sizeof(other), "%s/hl-other", unit_tmpdir());
    assert_int_equal(link(target, other), 0);
    assert_int_equal(safe_open(other, O_RDONLY, 0, (uid_t) -1, &err), -1);
    assert_non_null(strstr(err, "hard link"));
}

/* test_safe_open_create_excl - create never reuses an existing file */
static void test_safe_open_create_excl(void **state)
{
    char    path[512];
    const char *err = NULL;
    int     fd;

    snprintf(path, sizeof(path), "%s/new", unit_tmpdir());
    fd = safe_open(path, O_WRONLY | O_CREAT, 0600, getuid(), &err);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, "abc", 3), 0);
    close(fd);
    assert_int_equal(safe_open(path, O_WRONLY | O_CREAT, 0600, getuid(), &err), -1);
    fd = safe_open(path, O_RDONLY, 0, getuid(), &err);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(safe_open(path, O_RDONLY, 0, getuid() + 1, &err), -1);
    assert_non_null(strstr(err, "owner"));
}

/* test_sock_unix_roundtrip - listen, connect, accept over a Unix socket */
static void test_sock_unix_roundtrip(void **state)
{
    char    path[512], buf[8];
    const char *err = NULL;
    int     lfd, cfd, afd;

    snprintf(path, sizeof(path), "%s/sock", unit_tmpdir());
    lfd = sock_listen_unix(path, 5, 0600, &err);
    assert_true(lfd >= 0);
    cfd = sock_connect_unix(path, 2, &err);
    assert_true(cfd >= 0);
    afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    assert_int_equal(write(cfd, "hi", 2), 2);
    assert_int_equal(read(afd, buf, sizeof(buf)), 2);
    close(afd), close(cfd), close(lfd);
    snprintf(path, sizeof(path), "%s/nothere", unit_tmpdir());
    assert_int_equal(sock_connect_unix(path, 1, &err), -1);
    assert_non_null(strstr(err, "nothere"));
}

/* test_sock_inet_split - host:port forms */
static void test_sock_inet_split(void **state)
{
    char    a[] = "127.0.0.1:25", b[] = "[::1]:587", c[] = "2525";
    char   *host, *port;

    assert_int_equal(sock_split_hostport(a, &host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(port, "25");
    assert_int_equal(sock_split_hostport(b, &host, &port), 0);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "587");
    assert_int_equal(sock_split_hostport(c, &host, &port), 0);
    assert_string_equal(host, "");
    assert_string_equal(port, "2525");
}

static int fired;

/* on_timer - count timer calls */
static void on_timer(int fd, int event, void *context)
{
    assert_int_equal(event, EVENT_TIME);
    fired += *(int *) context;
}

/* on_read - drain a pipe */
static void on_read(int fd, int event, void *context)
{
    char    c;

    assert_int_equal(read(fd, &c, 1), 1);
    *(char *) context = c;
    event_disable(fd);
}

/* test_event_loop - a timer fires once; a readable fd calls back */
static void test_event_loop(void **state)
{
    int     one = 1, pfd[2];
    char    got = 0;

    event_request_timer(on_timer, &one, 10);
    event_request_timer(on_timer, &one, 20);	/* moves, does not add */
    assert_int_equal(pipe(pfd), 0);
    event_enable_read(pfd[0], on_read, &got);
    assert_int_equal(write(pfd[1], "x", 1), 1);
    for (int i = 0; i < 20 && (fired == 0 || got == 0); i++)
	event_loop(50);
    assert_int_equal(fired, 1);
    assert_int_equal(got, 'x');
    assert_int_equal(event_cancel_timer(on_timer, &one), 0);
    close(pfd[0]), close(pfd[1]);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_safe_open_refuses_symlink),
	cmocka_unit_test(test_safe_open_refuses_hardlink),
	cmocka_unit_test(test_safe_open_create_excl),
	cmocka_unit_test(test_sock_unix_roundtrip),
	cmocka_unit_test(test_sock_inet_split),
	cmocka_unit_test(test_event_loop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
