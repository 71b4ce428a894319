/*
 * pop3-load.c - POP3 load generator for bench/pop3_bench.py.
 *
 *   pop3-load PORT USER PASSWORD [USER PASSWORD ...]
 *
 * One process per user, all at once, against 127.0.0.1:PORT: greeting,
 * USER, PASS, LIST, RETR of every listed message, QUIT. Prints one line,
 * "sessions=N messages=M octets=O seconds=S", and exits 1 if a session
 * failed (its reason on standard error). Replies are read in large
 * buffers and searched for their end, so the client costs little next to
 * the servers measured (Python's poplib reads line by line).
 *
 * It trusts the server to be one of ours or Dovecot on this host: a
 * reply line is bounded by the buffer, a multi-line reply is not kept.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOAD_BUF (1 << 20)

typedef struct conn {
    int fd;
    char buf[LOAD_BUF];
    size_t len; /* bytes in buf */
} conn_t;

typedef struct result {
    long messages;
    long long octets;
    int ok;
} result_t;

/* load_fail - give up on this session */
static void load_fail(const char *what, const char *user)
{
    fprintf(stderr, "pop3-load: %s: %s\n", user, what);
    exit(1);
}

/* conn_fill - more bytes from the server; 0 ok, -1 EOF or error */
static int conn_fill(conn_t *c)
{
    ssize_t n;

    if (c->len == sizeof(c->buf))
	return -1;
    while ((n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len)) < 0 && errno == EINTR)
	;
    if (n <= 0)
	return -1;
    c->len += (size_t)n;
    return 0;
}

/* conn_until - drop everything up to and including term; returns the
 * bytes dropped, -1 on EOF. from: where term may start */
static long long conn_until(conn_t *c, const char *term, int *ok_r)
{
    size_t tlen = strlen(term), scan = 0;
    long long dropped = 0;
    char *hit;

    *ok_r = -1;
    for (;;) {
	if (*ok_r < 0 && c->len >= 3)
	    *ok_r = memcmp(c->buf, "+OK", 3) == 0;
	if ((hit = memmem(c->buf + scan, c->len - scan, term, tlen)) != NULL) {
	    size_t used = (size_t)(hit - c->buf) + tlen;

	    memmove(c->buf, c->buf + used, c->len - used);
	    c->len -= used;
	    return dropped + (long long)used;
	}
	if (c->len > tlen) { /* keep a tail that may start the terminator */
	    size_t keep = tlen - 1;

	    dropped += (long long)(c->len - keep);
	    memmove(c->buf, c->buf + c->len - keep, keep);
	    c->len = keep;
	}
	scan = 0;
	if (conn_fill(c) < 0)
	    return -1;
    }
}

/* conn_cmd - send a command, read its reply (multi: up to CRLF.CRLF);
 * the reply's size, or -1 with load_fail */
static long long conn_cmd(conn_t *c, const char *cmd, int multi, const char *user)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "%s\r\n", cmd), ok;
    long long size;

    if (n < 0 || (size_t)n >= sizeof(line) || write(c->fd, line, (size_t)n) != n)
	load_fail("write", user);
    if ((size = conn_until(c, multi ? "\r\n.\r\n" : "\r\n", &ok)) < 0 || ok != 1)
	load_fail(cmd, user);
    return size;
}

/* load_list - LIST: the number of messages (lines between +OK and .) */
static long load_list(conn_t *c, const char *user)
{
    int ok;
    long lines = 0;

    if (write(c->fd, "LIST\r\n", 6) != 6 || conn_until(c, "\r\n", &ok) < 0 || ok != 1)
	load_fail("LIST", user);
    for (;;) {
	while (c->len < 3 || memchr(c->buf, '\n', c->len) == NULL)
	    if (conn_fill(c) < 0)
		load_fail("LIST", user);
	if (memcmp(c->buf, ".\r\n", 3) == 0) {
	    memmove(c->buf, c->buf + 3, c->len - 3);
	    c->len -= 3;
	    return lines;
	}
	(void)conn_until(c, "\r\n", &ok);
	lines++;
    }
}

/* load_session - one user's session; the result on fd */
static void load_session(int port, const char *user, const char *pass, int out)
{
    static conn_t c;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    result_t r = {0, 0, 1};
    char cmd[300];
    int ok, on = 1;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if ((c.fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
	load_fail("connect", user);
    (void)setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (conn_until(&c, "\r\n", &ok) < 0 || ok != 1)
	load_fail("greeting", user);
    snprintf(cmd, sizeof(cmd), "USER %s", user);
    conn_cmd(&c, cmd, 0, user);
    snprintf(cmd, sizeof(cmd), "PASS %s", pass);
    conn_cmd(&c, cmd, 0, user);
    r.messages = load_list(&c, user);
    for (long i = 1; i <= r.messages; i++) {
	snprintf(cmd, sizeof(cmd), "RETR %ld", i);
	r.octets += conn_cmd(&c, cmd, 1, user);
    }
    conn_cmd(&c, "QUIT", 0, user);
    close(c.fd);
    if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
	exit(1);
    exit(0);
}

int main(int argc, char **argv)
{
    int port, fds[2], sessions = 0, failed = 0;
    struct timeval t0, t1;
    result_t r, sum = {0, 0, 1};

    if (argc < 4 || argc % 2 != 0 || (port = atoi(argv[1])) <= 0) {
	fprintf(stderr, "usage: pop3-load PORT USER PASSWORD [USER PASSWORD ...]\n");
	return 2;
    }
    if (pipe(fds) < 0)
	return 2;
    gettimeofday(&t0, NULL);
    for (int i = 2; i + 1 < argc; i += 2) {
	pid_t pid = fork();

	if (pid == 0) {
	    close(fds[0]);
	    load_session(port, argv[i], argv[i + 1], fds[1]);
	}
	if (pid < 0)
	    return 2;
    }
    close(fds[1]);
    while (read(fds[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
	sessions++;
	sum.messages += r.messages;
	sum.octets += r.octets;
    }
    while (wait(&failed) > 0)
	;
    gettimeofday(&t1, NULL);
    printf("sessions=%d messages=%ld octets=%lld seconds=%.4f\n", sessions, sum.messages,
	   sum.octets, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) / 1e6);
    return sessions == (argc - 2) / 2 ? 0 : 1;
}
