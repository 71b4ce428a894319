/*
 * stream.h - buffered byte streams over a file descriptor.
 *
 * Every read and write has a timeout, and line reads are bounded. The
 * transport is a small table of functions (stream_io_t) so that a TLS
 * layer can slot in under an open stream (after STARTTLS) without the
 * protocol code noticing.
 */
#ifndef MR_STREAM_H
#define MR_STREAM_H

#include <stddef.h>
#include <sys/types.h>

#include "str.h"

typedef struct stream stream_t;

/* Transport: read/write at most len bytes, waiting at most timeout_ms
 * (-1: forever). Return bytes moved, 0 for EOF (read), -1 with errno set
 * (ETIMEDOUT on timeout; EINTR when a signal cut a wait short: the
 * stream recomputes the time left and calls again). */
typedef struct stream_io {
    ssize_t (*read)(void *ctx, int fd, void *buf, size_t len, int timeout_ms);
    ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len, int timeout_ms);
    void (*close)(void *ctx); /* may be NULL */
} stream_io_t;

/* Results of stream_read_line */
#define STREAM_LINE 1     /* a whole line, ending in '\n' */
#define STREAM_PARTIAL 2  /* max bytes, no '\n' yet (rest unread) */
#define STREAM_EOF 0      /* end of file before any byte */
#define STREAM_ERROR (-1) /* I/O error or timeout */

/* stream_open - wrap fd (the stream owns it and closes it) */
stream_t *stream_open(int fd);
/* stream_open_file - stream_open for a descriptor known not to be a
 * socket (a regular file): reads and writes skip the socket calls */
stream_t *stream_open_file(int fd);
/* stream_open_pair - a stream that reads from rfd and writes to wfd
 * (standard input and output of a program spoken to over pipes); it
 * owns rfd only: stream_close closes rfd, never wfd */
stream_t *stream_open_pair(int rfd, int wfd);
/* stream_close - flush, close and free; sets *sp to NULL; -1 on flush error */
int stream_close(stream_t **sp);
/* stream_release - free the stream but leave the fd open; returns the fd */
int stream_release(stream_t **sp);
/* stream_set_timeout - per-operation timeout in seconds (0: none) */
void stream_set_timeout(stream_t *s, int seconds);
/* stream_set_autoflush - when on, buffered output is flushed before the
 * stream reads from (or waits for) the descriptor, i.e. only once all
 * input already buffered has been consumed */
void stream_set_autoflush(stream_t *s, int on);
/* stream_set_io - switch transport (e.g. to TLS); buffered input is kept */
void stream_set_io(stream_t *s, const stream_io_t *io, void *ctx);
/* stream_timeout_ms - what one operation may wait from now, in ms: the
 * per-operation timeout cut to what is left of the deadline; -1 for
 * none, 0 once the deadline has passed (a TLS handshake, which is many
 * operations, takes it as its own deadline) */
int stream_timeout_ms(stream_t *s);
/* stream_set_deadline - from now on, every read and write must be done
 * within seconds in all (a per-request deadline: a peer that sends one
 * byte at a time cannot stretch it); 0 removes it. The per-operation
 * timeout still applies within it. */
void stream_set_deadline(stream_t *s, int seconds);
/* stream_extend_deadline - move the deadline ms later (credit for data
 * received, e.g. a minimum data rate) */
void stream_extend_deadline(stream_t *s, long long ms);
/* stream_set_stress_deadline - the deadline length that applies to every
 * stream with a deadline once stream_stress() was called (0: none) */
void stream_set_stress_deadline(int seconds);
/* stream_stress - async-signal-safe: deadlines are cut to the stress
 * length from now on, waits in progress included (with the plain
 * transport; a transport that retries EINTR itself applies it at its
 * next wait) */
void stream_stress(void);
/* stream_discard_input - drop buffered unread input (e.g. plaintext that
 * came with STARTTLS); returns the number of bytes dropped */
size_t stream_discard_input(stream_t *s);
/* stream_fd - the file descriptor */
int stream_fd(stream_t *s);

/* stream_read_line - append one line (with its '\n') to line, reading at
 * most max bytes. Returns STREAM_LINE, STREAM_PARTIAL (max bytes and no
 * '\n': nothing beyond them was consumed), STREAM_EOF or STREAM_ERROR.
 * At EOF in mid-line the partial line is returned as STREAM_LINE without
 * a '\n'. */
int stream_read_line(stream_t *s, str_t *line, size_t max);
/* stream_skip_line - discard input up to and including the next '\n';
 * returns 1, or STREAM_EOF / STREAM_ERROR */
int stream_skip_line(stream_t *s);
/* stream_getc - one byte, or -1 at EOF/error */
int stream_getc(stream_t *s);
/* stream_read - up to len bytes (at least 1 unless EOF/error); returns
 * count, 0 at EOF, -1 on error */
ssize_t stream_read(stream_t *s, void *buf, size_t len);
/* stream_read_str - append exactly len bytes to a string: 1 ok, 0 EOF
 * before all of them, -1 error */
int stream_read_str(stream_t *s, str_t *out, size_t len);
/* stream_pending - bytes already buffered and not yet consumed */
size_t stream_pending(stream_t *s);
/* stream_spin_readable - busy-wait at most spin_us microseconds for input
 * (no sleep): 1 input there, 0 not yet, -1 error. For request/reply
 * partners that answer within microseconds: a sleeping process on an
 * otherwise idle machine takes tens of microseconds to wake up again. */
int stream_spin_readable(stream_t *s, long spin_us);
/* stream_wait_readable - 1 if input arrives within ms, 0 if not, -1 error */
int stream_wait_readable(stream_t *s, int ms);
/* stream_wait_input - for an answer that cannot be there yet (the peer
 * works before it answers): wait for input within the stream's timeout
 * instead of trying a read first (which would fail with EAGAIN): 1 input
 * there, -1 error or timeout (the stream's error and timedout set) */
int stream_wait_input(stream_t *s);

/* stream_patch_buffered - overwrite len bytes of output at offset
 * (counted from the first byte ever written through s) while they are
 * still in the buffer: 0 done, -1 already written out (or partly) */
int stream_patch_buffered(stream_t *s, long long offset, const void *buf, size_t len);
/* stream_write - buffer len bytes; 0 ok, -1 error */
int stream_write(stream_t *s, const void *buf, size_t len);
/* stream_puts - buffer a C string */
int stream_puts(stream_t *s, const char *cstr);
/* stream_printf - buffer formatted text */
int stream_printf(stream_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* stream_flush - write out the buffer; 0 ok, -1 error */
int stream_flush(stream_t *s);

/* Sticky status */
int stream_error(stream_t *s);    /* an I/O error happened */
int stream_timedout(stream_t *s); /* ... and it was a timeout */
int stream_eof(stream_t *s);      /* EOF seen */
/* stream_clear_error - forget sticky error/EOF (for a retry) */
void stream_clear_error(stream_t *s);

#endif
