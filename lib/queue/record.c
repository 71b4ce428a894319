/*
 * record.c - reading and writing typed, length-prefixed records.
 *
 * Two readers share one definition of a valid record: rec_get for a
 * blocking stream (a queue file, the cleanup socket) and rec_parse, a
 * resumable state machine for input that arrives in pieces. rec_get is
 * built on rec_parse, so the byte-at-a-time tests and the fuzzer cover
 * the code that reads real queue files.
 */
#include <stdarg.h>
#include <string.h>

#include "queue/record.h"
#include "util/crc32c.h"
#include "util/msg.h"

#define REC_ST_TYPE 0  /* expecting a type byte */
#define REC_ST_LEN 1   /* inside the varint */
#define REC_ST_VALUE 2 /* reading value bytes */

static const struct {
    int type;
    const char *name;
} rec_names[] = {
    {REC_TYPE_TIME, "time"},     {REC_TYPE_SIZE, "size"}, {REC_TYPE_SENDER, "sender"},
    {REC_TYPE_RCPT, "rcpt"},     {REC_TYPE_DONE, "done"}, {REC_TYPE_ORCPT, "orcpt"},
    {REC_TYPE_NOTIFY, "notify"}, {REC_TYPE_ATTR, "attr"}, {REC_TYPE_MESG, "mesg"},
    {REC_TYPE_NORM, "norm"},     {REC_TYPE_CONT, "cont"}, {REC_TYPE_END, "end"},
};

#define REC_NAMES_COUNT (sizeof(rec_names) / sizeof(rec_names[0]))

/* rec_type_name - printable name of a record type */
const char *rec_type_name(int type)
{
    for (size_t i = 0; i < REC_NAMES_COUNT; i++)
	if (rec_names[i].type == type)
	    return rec_names[i].name;
    return "unknown";
}

/* rec_type_known - is this one of ours? */
int rec_type_known(int type)
{
    for (size_t i = 0; i < REC_NAMES_COUNT; i++)
	if (rec_names[i].type == type)
	    return 1;
    return 0;
}

/* rec_varint_encode - 7 bits per byte, low group first */
size_t rec_varint_encode(unsigned char *buf, size_t len)
{
    size_t n = 0;

    if (len > REC_MAX_LEN)
	msg_panic("rec_varint_encode: length %zu over limit", len);
    do {
	buf[n] = len & 0x7f;
	len >>= 7;
	if (len)
	    buf[n] |= 0x80;
	n++;
    } while (len);
    return n;
}

/* rec_wire_size - header plus value */
size_t rec_wire_size(size_t len)
{
    unsigned char buf[REC_VARINT_MAX];

    return 1 + rec_varint_encode(buf, len) + len;
}

/* rec_header - type byte and varint into buf; returns its length */
static size_t rec_header(unsigned char *buf, int type, size_t len)
{
    if (!rec_type_known(type))
	msg_panic("rec_header: unknown record type 0x%02x", type & 0xff);
    buf[0] = (unsigned char)type;
    return 1 + rec_varint_encode(buf + 1, len);
}

/* rec_put - one record on a stream */
int rec_put(stream_t *s, int type, const void *data, size_t len)
{
    unsigned char hdr[REC_HDR_MAX];
    size_t n = rec_header(hdr, type, len);

    if (stream_write(s, hdr, n) < 0)
	return -1;
    return len ? stream_write(s, data, len) : 0;
}

/* rec_puts - one C-string record */
int rec_puts(stream_t *s, int type, const char *value)
{
    return rec_put(s, type, value, strlen(value));
}

/* rec_putf - one formatted record */
int rec_putf(stream_t *s, int type, const char *fmt, ...)
{
    str_t *buf = str_new(100);
    va_list ap;
    int ret;

    va_start(ap, fmt);
    str_vappendf(buf, fmt, ap);
    va_end(ap);
    ret = rec_put(s, type, str_data(buf), str_len(buf));
    str_free(&buf);
    return ret;
}

/* rec_sum - one record into a running checksum, DONE counted as RCPT */
uint32_t rec_sum(uint32_t crc, int type, const void *data, size_t len)
{
    unsigned char hdr[REC_HDR_MAX];
    size_t n = 1 + rec_varint_encode(hdr + 1, len);

    /* the type was checked where the record was read or made */
    hdr[0] = (unsigned char)(type == REC_TYPE_DONE ? REC_TYPE_RCPT : type);
    crc = crc32c_update(crc, hdr, n);
    return len ? crc32c_update(crc, data, len) : crc;
}

/* rec_encode - one record appended to memory */
void rec_encode(str_t *out, int type, const void *data, size_t len)
{
    unsigned char hdr[REC_HDR_MAX];
    size_t n = rec_header(hdr, type, len);

    str_append(out, hdr, n);
    str_append(out, data, len);
}

/* rec_parser_init - reset to a record boundary */
void rec_parser_init(rec_parser_t *p)
{
    p->state = REC_ST_TYPE;
    p->type = 0;
    p->len = 0;
    p->shift = 0;
    if (p->value == NULL)
	p->value = str_new(100);
    str_reset(p->value);
    p->error = NULL;
}

/* rec_parser_free - release the value buffer */
void rec_parser_free(rec_parser_t *p)
{
    if (p->value)
	str_free(&p->value);
}

/* rec_parser_boundary - between records? */
int rec_parser_boundary(const rec_parser_t *p)
{
    return p->state == REC_ST_TYPE;
}

/* rec_parse_fail - record why, return -1 */
static int rec_parse_fail(rec_parser_t *p, const char *why)
{
    p->error = why;
    return -1;
}

/* rec_parse_len - one varint byte; returns 1 when the length is known */
static int rec_parse_len(rec_parser_t *p, unsigned char c)
{
    if (p->shift >= 7 * REC_VARINT_MAX)
	return rec_parse_fail(p, "record length too long");
    p->len |= (size_t)(c & 0x7f) << p->shift;
    p->shift += 7;
    if (c & 0x80)
	return 0;
    if (c == 0 && p->shift > 7)
	return rec_parse_fail(p, "record length not minimally encoded");
    if (p->len > REC_MAX_LEN)
	return rec_parse_fail(p, "record length over limit");
    return 1;
}

/* rec_parse - resumable record parser */
int rec_parse(rec_parser_t *p, const void *data, size_t len, size_t *used_r)
{
    const unsigned char *cp = data;
    size_t i = 0;
    int ret;

    if (p->state == REC_ST_TYPE) {
	p->len = 0;
	p->shift = 0;
	str_reset(p->value);
    }
    while (i < len) {
	switch (p->state) {
	case REC_ST_TYPE:
	    if (!rec_type_known(cp[i]))
		return rec_parse_fail(p, "unknown record type");
	    p->type = cp[i++];
	    p->state = REC_ST_LEN;
	    break;
	case REC_ST_LEN:
	    if ((ret = rec_parse_len(p, cp[i++])) < 0)
		return ret;
	    if (ret == 1)
		p->state = REC_ST_VALUE;
	    break;
	case REC_ST_VALUE:
	    if (str_len(p->value) < p->len) {
		size_t take = p->len - str_len(p->value);

		if (take > len - i)
		    take = len - i;
		str_append(p->value, cp + i, take);
		i += take;
	    }
	    break;
	}
	/* Checked after every byte, so a zero-length value completes as
	 * soon as its length byte is read. */
	if (p->state == REC_ST_VALUE && str_len(p->value) == p->len) {
	    p->state = REC_ST_TYPE;
	    *used_r = i;
	    return 1;
	}
    }
    *used_r = i;
    return 0;
}

/* rec_get - one record from a stream, through the same parser */
int rec_get(stream_t *s, str_t *value, const char **error_r)
{
    rec_parser_t p = {0};
    unsigned char byte;
    size_t used, n = 0;
    int c, ret;

    p.value = value;
    rec_parser_init(&p);
    /* Header: feed bytes one at a time so nothing beyond it is consumed. */
    while (p.state != REC_ST_VALUE) {
	if ((c = stream_getc(s)) < 0) {
	    *error_r = stream_error(s) ? (stream_timedout(s) ? "timeout" : "read error")
				       : "truncated record";
	    return (n == 0 && !stream_error(s)) ? 0 : -1;
	}
	byte = (unsigned char)c;
	n++;
	if ((ret = rec_parse(&p, &byte, 1, &used)) < 0) {
	    *error_r = p.error;
	    return -1;
	}
	if (ret == 1)
	    return p.type;
    }
    if ((ret = stream_read_str(s, value, p.len)) <= 0) {
	*error_r = ret < 0 ? (stream_timedout(s) ? "timeout" : "read error") : "truncated record";
	return -1;
    }
    return p.type;
}
