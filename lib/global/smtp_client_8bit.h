/*
 * smtp_client_8bit.h - 8BITMIME downgrade: a message with 8-bit MIME
 * parts made fit for a server that does not offer 8BITMIME (RFC 6152
 * section 3, RFC 1652 section 6), the way Postfix's smtp client does it.
 *
 * The converter walks the MIME structure line by line (multipart parts
 * at any depth up to SMTP_8BIT_DEPTH, message/rfc822 parts as messages
 * of their own) and changes only what it must:
 *   - a leaf part (or a MIME message without parts) whose
 *     Content-Transfer-Encoding is 8bit or binary gets its body encoded
 *     as quoted-printable (RFC 2045 section 6.7: lines of at most 76
 *     characters, soft line breaks, trailing blanks encoded) and the
 *     header "Content-Transfer-Encoding: quoted-printable" in place of
 *     the old one, written at the end of the part's header;
 *   - so does a leaf part without a Content-Transfer-Encoding (or
 *     labelled 7bit) whose body has 8-bit bytes, when a scan of the
 *     message found them (smtp_8bit_learn): a part without Content-Type
 *     is labelled "text/plain; charset=unknown-8bit" (RFC 1428), and a
 *     message without MIME-Version gets "MIME-Version: 1.0" (unless its
 *     Content-Type says multipart or message: then it passes as it is);
 *   - a multipart or message/rfc822 part labelled 8bit or binary is
 *     relabelled 7bit (its own parts are converted);
 *   - 8-bit text in header fields is RFC 2047 encoded where the field's
 *     syntax allows it (header_2047.h: unstructured fields, display names
 *     in address fields); other fields are left as they are;
 *   - everything else passes through byte for byte: 7bit,
 *     quoted-printable and base64 parts, preambles and epilogues, and
 *     parts beyond SMTP_8BIT_PARTS (unless labelled 8bit).
 *
 * Input is the message as the queue file gives it: lines without their
 * line end, each possibly in pieces (complete 0 until the last piece).
 * The converter is resumable: any split of the same lines gives the same
 * output. Output goes to emit() in the same shape (complete 1 ends a
 * line). Bounds: a line is examined in its first SMTP_8BIT_PEEK bytes
 * (longer lines are never boundaries), a header field is kept up to
 * SMTP_8BIT_FIELD_MAX bytes (a longer one passes through uninterpreted),
 * a boundary is at most SMTP_8BIT_BOUNDARY_MAX bytes; beyond
 * SMTP_8BIT_DEPTH nested multiparts the inner parts pass through.
 */
#ifndef MR_SMTP_CLIENT_8BIT_H
#define MR_SMTP_CLIENT_8BIT_H

#include <stddef.h>

#define SMTP_8BIT_PEEK 1000
#define SMTP_8BIT_FIELD_MAX 65536
#define SMTP_8BIT_BOUNDARY_MAX 200
#define SMTP_8BIT_DEPTH 20
#define SMTP_8BIT_PARTS 4096 /* parts a scan keeps track of */

typedef struct smtp_8bit smtp_8bit_t;

/* emit - one piece of output; complete 1 when it ends a line */
typedef void (*smtp_8bit_emit_fn)(void *ctx, const char *data, size_t len, int complete);

/* smtp_8bit_create - a converter for one message; with emit NULL a
 * scan: it writes nothing and notes which parts have 8-bit bodies */
smtp_8bit_t *smtp_8bit_create(smtp_8bit_emit_fn emit, void *ctx);
/* smtp_8bit_learn - give a converter what a finished scan of the same
 * message found (before its first line) */
void smtp_8bit_learn(smtp_8bit_t *m, const smtp_8bit_t *scan);
/* smtp_8bit_line - the next piece of the current line (complete 1: the
 * line ends after it) */
void smtp_8bit_line(smtp_8bit_t *m, const char *data, size_t len, int complete);
/* smtp_8bit_finish - end of the message: pass on what is held back */
void smtp_8bit_finish(smtp_8bit_t *m);
/* smtp_8bit_converted - how many parts were encoded so far */
int smtp_8bit_converted(const smtp_8bit_t *m);
/* smtp_8bit_free - release; sets *mp to NULL */
void smtp_8bit_free(smtp_8bit_t **mp);

#endif
