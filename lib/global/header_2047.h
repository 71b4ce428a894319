/*
 * header_2047.h - 8-bit text in a header field made 7-bit with RFC 2047
 * encoded-words, for a peer that does not take 8-bit mail.
 *
 * Only what can be encoded without changing meaning is encoded:
 *   - unstructured fields (Subject, Comments, Content-Description and
 *     every X- field, RFC 5322 section 3.6.8): the whole value becomes
 *     encoded-words, so a reader decodes exactly the text it had;
 *   - address fields (From, To, Cc, Bcc, Reply-To, Sender and their
 *     Resent- forms, Mail-Followup-To, Mail-Reply-To,
 *     Disposition-Notification-To): the display name of an entry
 *     written "name <addr>" becomes encoded-words (RFC 2047 section 5,
 *     in a phrase), quotes and backslash escapes removed. An entry with
 *     8-bit bytes in the address itself (an SMTPUTF8 address has no 7-bit
 *     form), in a group or in a comment is left as it is;
 *   - any other field (Received, Message-ID, Content-Type, ...) is left
 *     as it is: its syntax has no place for encoded-words.
 * The charset is utf-8 when the field's value is valid UTF-8, else
 * unknown-8bit (RFC 1428). Words use the Q encoding with the characters
 * RFC 2047 allows in a phrase, are at most 75 characters long, never
 * split a UTF-8 character, and are folded so that a line stays within
 * 76 characters where the field name allows.
 */
#ifndef MR_HEADER_2047_H
#define MR_HEADER_2047_H

#include <stddef.h>

#include "util/str.h"

/* header_2047_field - the field (name, ':', value; folded lines joined
 * by '\n') with its 8-bit text encoded as above into out. Returns 1 when
 * out holds a changed field, 0 when the field is to be sent as it is
 * (no 8-bit byte, or a field or entry that cannot be encoded; out is
 * then undefined). */
int header_2047_field(str_t *out, const char *field, size_t len);

/* header_2047_has_8bit - 1 if any byte of data is >= 0x80 */
int header_2047_has_8bit(const char *data, size_t len);

#endif
