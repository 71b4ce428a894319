/*
 * record.h - typed, length-prefixed records: the queue file format.
 *
 * A record is one type byte, the value length as a varint, then that many
 * value bytes. The varint carries 7 bits per byte, least significant group
 * first; the high bit of a byte says "another byte follows". Encodings must
 * be minimal (no trailing zero groups) and a length above REC_MAX_LEN is
 * corruption, so a hostile length can never make a reader allocate much.
 *
 * A queue file (and a maildrop file, and the record part of the cleanup
 * protocol) is:
 *
 *     envelope   TIME? SIZE? SENDER (RCPT|DONE ORCPT? NOTIFY?)* ATTR*
 *     MESG
 *     content    (CONT* NORM)*        one line = CONT pieces + one NORM
 *     END
 *
 * Envelope records may come in any order before MESG, except that ORCPT
 * and NOTIFY belong to the RCPT/DONE record just before them. A reader
 * rejects an unknown type, a truncated record, a missing END, and any
 * byte after END. See docs/queue.md.
 */
#ifndef MR_RECORD_H
#define MR_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/str.h"
#include "util/stream.h"

/* Record types (all printable, so a hex dump of a queue file reads) */
#define REC_TYPE_TIME 'T' /* arrival: "SECONDS.MICROSECONDS" */
#define REC_TYPE_SIZE                                                                              \
    'S'                     /* content size in bytes, decimal (fixed                               \
			     * width in queue files: rewritten in place) */
#define REC_TYPE_SENDER 'F' /* envelope sender, "" for the null sender */
#define REC_TYPE_RCPT 'R'   /* recipient, not yet delivered */
#define REC_TYPE_DONE                                                                              \
    'D'                     /* recipient done: a RCPT whose type byte                              \
			     * was rewritten in place (pwrite+fsync) */
#define REC_TYPE_ORCPT 'O'  /* DSN ORCPT of the preceding recipient */
#define REC_TYPE_NOTIFY 'N' /* DSN NOTIFY of the preceding recipient */
#define REC_TYPE_ATTR 'A'   /* "name=value" (client_addr, helo, ...) */
#define REC_TYPE_MESG 'M'   /* start of content (empty value) */
#define REC_TYPE_NORM 'L'   /* one content line, no terminator */
#define REC_TYPE_CONT 'C'   /* a piece of a longer line; more follows */
#define REC_TYPE_END 'E'    /* end of file (empty value) */

#define REC_MAX_LEN (1024 * 1024) /* longest value a reader accepts */
#define REC_VARINT_MAX 3          /* bytes of a varint <= REC_MAX_LEN */
#define REC_HDR_MAX (1 + REC_VARINT_MAX)

/* rec_type_known - 1 if type is one of the REC_TYPE_* above, else 0 */
int rec_type_known(int type);
/* rec_type_name - "sender", "rcpt", ... for log lines ("unknown") */
const char *rec_type_name(int type);

/* rec_varint_encode - write len into buf (>= REC_VARINT_MAX bytes);
 * returns the number of bytes used. len must be <= REC_MAX_LEN. */
size_t rec_varint_encode(unsigned char *buf, size_t len);
/* rec_wire_size - bytes a record with a value of len bytes takes */
size_t rec_wire_size(size_t len);

/* rec_put - buffer one record on a stream: 0 ok, -1 I/O error (a value
 * longer than REC_MAX_LEN is a caller bug: panic) */
int rec_put(stream_t *s, int type, const void *data, size_t len);
/* rec_puts - rec_put of a C string */
int rec_puts(stream_t *s, int type, const char *value);
/* rec_putf - rec_put of printf-formatted text */
int rec_putf(stream_t *s, int type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* rec_sum - add one record, as it sits in a file (type byte, length,
 * value), to a running CRC-32C (util/crc32c.h). The type byte of a DONE
 * record counts as RCPT, so a done mark rewritten in place changes no
 * sum: the rule behind the checksum in a queue file's END record
 * (queue/qfile.h, "Seal"). */
uint32_t rec_sum(uint32_t crc, int type, const void *data, size_t len);
/* rec_encode - append one record to a string (for in-memory files) */
void rec_encode(str_t *out, int type, const void *data, size_t len);

/* rec_get - read one record from a stream. The value replaces the
 * content of value (NUL-terminated; may contain NULs). Returns the type
 * (> 0), 0 for a clean end of input before a type byte, or -1 with
 * *error_r set: I/O error or timeout, truncated record, unknown type,
 * over-long or non-minimal length. */
int rec_get(stream_t *s, str_t *value, const char **error_r);

/*
 * Resumable parser for callers that get bytes in arbitrary pieces
 * (tests, fuzzers, an event loop). State is explicit; nothing is read
 * beyond the record being parsed.
 */
typedef struct rec_parser {
    int state;         /* private */
    int type;          /* type of the completed record */
    size_t len;        /* private: value length */
    int shift;         /* private: varint position */
    str_t *value;      /* value of the completed record */
    const char *error; /* why -1 was returned */
} rec_parser_t;

/* rec_parser_init - start at a record boundary (value may be reused) */
void rec_parser_init(rec_parser_t *p);
/* rec_parser_free - release the value buffer */
void rec_parser_free(rec_parser_t *p);
/* rec_parse - consume bytes from data[0..len). Returns 1 when a record is
 * complete (p->type, p->value; *used_r bytes were consumed), 0 when all
 * len bytes were consumed and more are needed, -1 on corrupt input
 * (p->error). After 1, call again with the rest of the input. */
int rec_parse(rec_parser_t *p, const void *data, size_t len, size_t *used_r);
/* rec_parser_boundary - 1 if the parser is between records */
int rec_parser_boundary(const rec_parser_t *p);

#endif
