/*
 * test_util_io.c - safe_open, sockets, the event loop, stream deadlines
 * and the printable rule of log lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/safe_open.h"
#include "util/sock.h"
#include "util/sock_owner.h"
#include "util/str.h"
#include "util/stream.h"

/* test_safe_open_refuses_symlink - a symlink is never followed */
static void test_safe_open_refuses_symlink(void **state)
{
    const char *target = unit_write_file("target", "secret\n");
    char link_path[512];
    const char *err = NULL;

    snprintf(link_path, sizeof(link_path), "%s/link", unit_tmpdir());
    assert_int_equal(symlink(target, link_path), 0);
    assert_int_equal(safe_open(link_path, O_RDONLY, 0, (uid_t)-1, &err), -1);
    assert_non_null(strstr(err, "link"));
}

/* test_safe_open_refuses_hardlink - a second hard link is suspicious */
static void test_safe_open_refuses_hardlink(void **state)
{
    const char *target = unit_write_file("hl-target", "x\n");
    char other[512];
    const char *err = NULL;

    snprintf(other, sizeof(other), "%s/hl-other", unit_tmpdir());
    assert_int_equal(link(target, other), 0);
    assert_int_equal(safe_open(other, O_RDONLY, 0, (uid_t)-1, &err), -1);
    assert_non_null(strstr(err, "hard link"));
}

/* test_safe_open_create_excl - create never reuses an existing file */
static void test_safe_open_create_excl(void **state)
{
    char path[512];
    const char *err = NULL;
    int fd;

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
    char path[512], buf[8];
    const char *err = NULL;
    int lfd, cfd, afd;

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

/* test_reopen_read_only - a new descriptor of the same file that reads
 * from its own offset and cannot write */
static void test_reopen_read_only(void **state)
{
    const char *path = unit_write_file("rw", "content\n");
    char buf[16];
    int fd = open(path, O_RDWR), ro;

    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 3, SEEK_SET), 3);
    assert_true((ro = reopen_read_only(fd)) >= 0);
    assert_int_equal(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
    assert_true(fcntl(ro, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(ro, "x", 1), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(read(ro, buf, sizeof(buf)), 8);
    assert_memory_equal(buf, "content\n", 8);
    close(ro);
    close(fd);
}

/* test_sock_inet_split - host:port forms */
static void test_sock_inet_split(void **state)
{
    char a[] = "127.0.0.1:25", b[] = "[::1]:587", c[] = "2525";
    char *host, *port;

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

/* owner_connect - a child that becomes uid (when we are root) connects
 * to 127.0.0.1:port and waits for the parent to close; returns its pid */
static pid_t owner_connect(int port, uid_t uid)
{
    char addr[64];
    const char *err;
    char c;
    pid_t pid = fork();
    int fd;

    assert_true(pid >= 0);
    if (pid > 0)
	return pid;
    if (geteuid() == 0 && (setgid(uid) < 0 || setuid(uid) < 0))
	_exit(1);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    if ((fd = sock_connect_inet(addr, NULL, 10, &err)) < 0)
	_exit(1);
    (void)read(fd, &c, 1);
    _exit(0);
}

/* test_sock_peer_uid - the user holding a connection's other end: a
 * loopback TCP client of another user (when we are root), our own, and
 * a Unix socket pair */
static void test_sock_peer_uid(void **state)
{
    const char *err = NULL;
    uid_t want = geteuid() == 0 ? 65534 : geteuid(), uid = 12345;
    int lfd, port, afd, pair[2], status;
    char addr[64];
    pid_t pid;

    lfd = sock_listen_inet("127.0.0.1:0", 5, &err);
    assert_true(lfd >= 0);
    sock_local_addr(lfd, addr, sizeof(addr), &port);
    pid = owner_connect(port, want);
    afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    assert_int_equal(sock_peer_uid(afd, &uid), 1);
    assert_int_equal(uid, want);
    (void)close(afd);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(status, 0);
    (void)close(lfd);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    uid = 12345;
    assert_int_equal(sock_peer_uid(pair[0], &uid), 1);
    assert_int_equal(uid, geteuid());
    (void)close(pair[0]);
    (void)close(pair[1]);
}

/* test_sock_listen_queue - a TCP listener counts the connections waiting
 * for accept(); a Unix one cannot tell */
static void test_sock_listen_queue(void **state)
{
    char path[512], addr[64];
    const char *err = NULL;
    int lfd, port, c1, c2, afd, ufd;

    lfd = sock_listen_inet("127.0.0.1:0", 5, &err);
    assert_true(lfd >= 0);
    assert_int_equal(sock_listen_queue(lfd), 0);
    sock_local_addr(lfd, addr, sizeof(addr), &port);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    c1 = sock_connect_inet(addr, NULL, 2, &err);
    c2 = sock_connect_inet(addr, NULL, 2, &err);
    assert_true(c1 >= 0 && c2 >= 0);
    assert_int_equal(sock_listen_queue(lfd), 2);
    afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    assert_int_equal(sock_listen_queue(lfd), 1);
    assert_int_equal(sock_listen_queue(c1), -1); /* not a listener */
    snprintf(path, sizeof(path), "%s/qsock", unit_tmpdir());
    ufd = sock_listen_unix(path, 5, 0600, &err);
    assert_true(ufd >= 0);
    assert_int_equal(sock_listen_queue(ufd), -1);
    close(afd), close(c1), close(c2), close(lfd), close(ufd);
}

static int fired;

/* on_timer - count timer calls */
static void on_timer(int fd, int event, void *context)
{
    assert_int_equal(event, EVENT_TIME);
    fired += *(int *)context;
}

/* on_read - drain a pipe */
static void on_read(int fd, int event, void *context)
{
    char c;

    assert_int_equal(read(fd, &c, 1), 1);
    *(char *)context = c;
    event_disable(fd);
}

/* test_event_loop - a timer fires once; a readable fd calls back */
static void test_event_loop(void **state)
{
    int one = 1, pfd[2];
    char got = 0;

    event_request_timer(on_timer, &one, 10);
    event_request_timer(on_timer, &one, 20); /* moves, does not add */
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

/* on_arrival - count calls, accept nothing */
static void on_arrival(int fd, int event, void *context)
{
    assert_int_equal(event, EVENT_READ);
    (*(int *)context)++;
}

/* test_event_arrivals - a listener watched for arrivals calls back once
 * when enabled with a connection waiting, then once after each new
 * connection, never for the connections it leaves waiting */
static void test_event_arrivals(void **state)
{
    char addr[64];
    const char *err = NULL;
    int lfd, port, c[3], calls = 0;

    lfd = sock_listen_inet("127.0.0.1:0", 5, &err);
    assert_true(lfd >= 0);
    sock_local_addr(lfd, addr, sizeof(addr), &port);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    c[0] = sock_connect_inet(addr, NULL, 2, &err);
    assert_true(c[0] >= 0);
    event_enable_arrivals(lfd, on_arrival, &calls);
    for (int i = 0; i < 5; i++)
	event_loop(10);
    assert_int_equal(calls, 1);
    for (int n = 1; n < 3; n++) {
	c[n] = sock_connect_inet(addr, NULL, 2, &err);
	assert_true(c[n] >= 0);
	for (int i = 0; i < 20 && calls < n + 1; i++)
	    event_loop(50);
	for (int i = 0; i < 5; i++)
	    event_loop(10);
	assert_int_equal(calls, n + 1);
    }
    assert_int_equal(sock_listen_queue(lfd), 3);
    event_enable_read(lfd, on_arrival, &calls); /* level: every turn */
    event_loop(10);
    event_loop(10);
    assert_int_equal(calls, 5);
    event_disable(lfd);
    close(c[0]), close(c[1]), close(c[2]), close(lfd);
}

/* test_sock_unix_mode - the socket file gets its mode at bind (umask),
 * with no chmod by path afterwards */
static void test_sock_unix_mode(void **state)
{
    char path[512];
    const char *err = NULL;
    struct stat st;
    int lfd;

    snprintf(path, sizeof(path), "%s/modesock", unit_tmpdir());
    assert_true((lfd = sock_listen_unix(path, 5, 0666, &err)) >= 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0666);
    close(lfd);
    assert_true((lfd = sock_listen_unix(path, 5, 0600, &err)) >= 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    close(lfd);
    unlink(path);
}

/* now_ms - monotonic milliseconds */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dripper - a child that writes one byte every 100 ms for 3 seconds */
static pid_t dripper(int fd)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
	for (int i = 0; i < 30; i++) {
	    if (write(fd, "x", 1) != 1)
		break;
	    usleep(100 * 1000);
	}
	_exit(0);
    }
    return pid;
}

/* test_stream_deadline - a peer that drips bytes never completes a line
 * within the deadline, although no single wait reaches the timeout */
static void test_stream_deadline(void **state)
{
    int sv[2];
    stream_t *s;
    str_t *line = str_new(64);
    long long start;
    pid_t pid;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = dripper(sv[1]);
    s = stream_open(sv[0]);
    stream_set_timeout(s, 10);
    stream_set_deadline(s, 1);
    start = now_ms();
    assert_int_equal(stream_read_line(s, line, 1000), STREAM_ERROR);
    assert_true(stream_timedout(s));
    assert_true(now_ms() - start >= 900 && now_ms() - start < 2500);
    assert_true(str_len(line) > 3); /* bytes came, the line did not */
    /* credit moves it: 2 s more, so the next read gets bytes again */
    stream_clear_error(s);
    stream_extend_deadline(s, 2000);
    assert_true(stream_getc(s) == 'x');
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    stream_close(&s);
    close(sv[1]);
    str_free(&line);
}

/* test_stream_file - a file stream writes and reads back whole lines */
static void test_stream_file(void **state)
{
    char path[] = "/tmp/test_stream_file.XXXXXX";
    int fd = mkstemp(path);
    str_t *line = str_new(64);
    stream_t *s;

    assert_true(fd >= 0);
    unlink(path);
    s = stream_open_file(fd);
    assert_int_equal(stream_printf(s, "one\ntwo %d\n", 2), 0);
    assert_int_equal(stream_flush(s), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(stream_read_line(s, line, 100), STREAM_LINE);
    assert_string_equal(str_data(line), "one\n");
    str_reset(line);
    assert_int_equal(stream_read_line(s, line, 100), STREAM_LINE);
    assert_string_equal(str_data(line), "two 2\n");
    assert_int_equal(stream_read_line(s, line, 100), STREAM_EOF);
    assert_int_equal(stream_close(&s), 0);
    str_free(&line);
}

/* test_stream_patch_buffered - output still in the buffer can be
 * overwritten at its offset in the file; written out, it cannot */
static void test_stream_patch_buffered(void **state)
{
    char path[] = "/tmp/test_stream_patch.XXXXXX";
    int fd = mkstemp(path);
    char got[32];
    stream_t *s;

    assert_true(fd >= 0);
    unlink(path);
    s = stream_open_file(fd);
    assert_int_equal(stream_puts(s, "size=000 "), 0);
    assert_int_equal(stream_patch_buffered(s, 5, "042", 3), 0);
    assert_int_equal(stream_patch_buffered(s, 8, "42", 2), -1); /* past the end */
    assert_int_equal(stream_flush(s), 0);
    assert_int_equal(stream_patch_buffered(s, 5, "999", 3), -1); /* written out */
    assert_int_equal(stream_puts(s, "body=00"), 0);
    assert_int_equal(stream_patch_buffered(s, 8, "!b", 2), -1); /* partly written */
    assert_int_equal(stream_patch_buffered(s, 14, "77", 2), 0);
    assert_int_equal(stream_flush(s), 0);
    assert_int_equal(pread(fd, got, sizeof(got), 0), 16);
    assert_memory_equal(got, "size=042 body=77", 16);
    assert_int_equal(stream_close(&s), 0);
}

/* stress_alarm - what a daemon's stress signal handler does */
static void stress_alarm(int sig)
{
    stream_stress();
}

/* test_stream_stress - stress cuts a deadline in progress (run last: the
 * stress state is for the whole process) */
static void test_stream_stress(void **state)
{
    struct sigaction sa;
    struct itimerval it = {.it_value = {0, 300 * 1000}};
    int sv[2];
    stream_t *s;
    long long start;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = stress_alarm;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s = stream_open(sv[0]);
    stream_set_timeout(s, 30);
    stream_set_stress_deadline(1);
    stream_set_deadline(s, 30);
    start = now_ms();
    setitimer(ITIMER_REAL, &it, NULL);
    assert_int_equal(stream_getc(s), -1);
    assert_true(stream_timedout(s));
    assert_true(now_ms() - start >= 900 && now_ms() - start < 3000);
    stream_close(&s);
    close(sv[1]);
    signal(SIGALRM, SIG_DFL);
}

/* test_msg_printable - no control byte reaches a log line */
static void test_msg_printable(void **state)
{
    char path[512], buf[512];
    FILE *fp;
    size_t n;

    snprintf(path, sizeof(path), "%s/log", unit_tmpdir());
    unlink(path);
    assert_int_equal(msg_target(path), 0);
    msg_info("a\x1b[31mb\rc\nd\te\x7f \xc3\xa9 \xc3 \xc2\x85 \\015 end");
    msg_target("stderr");
    assert_non_null(fp = fopen(path, "r"));
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = 0;
    fclose(fp);
    assert_non_null(strstr(buf, "a\\x1b[31mb c d\\x09e\\x7f \xc3\xa9 \\xc3 \\xc2\\x85 "
				"\\015 end\n"));
}

/* a forked child keeps only the descriptor it names and the log file */
static void test_msg_close_others(void **state)
{
    char path[512], buf[512];
    int fds[4], status, ok;
    pid_t pid;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof(path), "%s/log2", unit_tmpdir());
    unlink(path);
    for (int i = 0; i < 4; i++)
	assert_true((fds[i] = open("/dev/null", O_RDONLY)) >= 3);
    assert_int_equal(msg_target(path), 0);
    if ((pid = fork()) == 0) {
	msg_close_others(fds[1]);
	msg_info("still logging");
	ok = fcntl(fds[1], F_GETFD) >= 0;
	for (int i = 0; i < 4; i++)
	    if (i != 1 && fcntl(fds[i], F_GETFD) >= 0)
		ok = 0;
	_exit(ok ? 0 : 1);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    msg_target("stderr");
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 4; i++)
	close(fds[i]);
    assert_non_null(fp = fopen(path, "r"));
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = 0;
    fclose(fp);
    assert_non_null(strstr(buf, "still logging\n"));
}

/* test_msg_close_others_but - several kept descriptors, in any order,
 * with gaps and negative entries: exactly those stay open */
static void test_msg_close_others_but(void **state)
{
    int fds[6], keep[4], status, ok;
    pid_t pid;

    for (int i = 0; i < 6; i++)
	assert_true((fds[i] = open("/dev/null", O_RDONLY)) >= 3);
    keep[0] = fds[4], keep[1] = -1, keep[2] = fds[0], keep[3] = fds[2];
    if ((pid = fork()) == 0) {
	msg_close_others_but(keep, 4);
	ok = 1;
	for (int i = 0; i < 6; i++)
	    if ((fcntl(fds[i], F_GETFD) >= 0) != (i == 0 || i == 2 || i == 4))
		ok = 0;
	_exit(ok ? 0 : 1);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 6; i++)
	close(fds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_safe_open_refuses_symlink),
	cmocka_unit_test(test_safe_open_refuses_hardlink),
	cmocka_unit_test(test_safe_open_create_excl),
	cmocka_unit_test(test_sock_unix_roundtrip),
	cmocka_unit_test(test_sock_inet_split),
	cmocka_unit_test(test_reopen_read_only),
	cmocka_unit_test(test_sock_listen_queue),
	cmocka_unit_test(test_sock_peer_uid),
	cmocka_unit_test(test_event_loop),
	cmocka_unit_test(test_event_arrivals),
	cmocka_unit_test(test_sock_unix_mode),
	cmocka_unit_test(test_stream_deadline),
	cmocka_unit_test(test_stream_file),
	cmocka_unit_test(test_stream_patch_buffered),
	cmocka_unit_test(test_msg_printable),
	cmocka_unit_test(test_stream_stress),
	cmocka_unit_test(test_msg_close_others),
	cmocka_unit_test(test_msg_close_others_but),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
