/*
 * sm_addr.c - addresses out of RFC 5322 address lists.
 *
 * Used for To:/Cc:/Bcc: values under -t, and for -f and recipient
 * arguments, which people write as "Name <user@example.com>" too. The
 * scanner knows quoted strings, (nested) comments, <angle> addresses with
 * an obsolete source route, and groups ("team: a@x, b@y;"). A word list
 * outside angle brackets is an addr-spec: its words are joined without
 * the white space between them. Input is bounded by the caller (header
 * size limit); the scanner itself uses no recursion.
 */
#include <string.h>

#include "util/mymalloc.h"
#include "util/str.h"
#include "sendmail.h"

typedef struct sm_scan {
    str_t *plain; /* addr-spec words outside <> */
    str_t *angle; /* content of <...> */
    int have_angle;
    sm_addr_fn fn;
    void *context;
    int count;
} sm_scan_t;

/* sm_scan_flush - one address is complete: hand it over */
static void sm_scan_flush(sm_scan_t *sc)
{
    const char *addr = NULL;

    if (sc->have_angle) {
	char *cp = str_data(sc->angle);
	char *colon;

	/* "<@relay1,@relay2:user@dom>" - drop the source route */
	if (*cp == '@' && (colon = strchr(cp, ':')) != NULL)
	    cp = colon + 1;
	addr = cp;
    } else if (str_len(sc->plain) > 0) {
	addr = str_data(sc->plain);
    }
    if (addr != NULL) {
	sc->fn(addr, sc->context);
	sc->count++;
    }
    str_reset(sc->plain);
    str_reset(sc->angle);
    sc->have_angle = 0;
}

/* sm_skip_comment - cp at "(": return the position after the matching ")" */
static const char *sm_skip_comment(const char *cp)
{
    int depth = 0;

    for (; *cp; cp++) {
	if (*cp == '\\' && cp[1])
	    cp++;
	else if (*cp == '(')
	    depth++;
	else if (*cp == ')' && --depth == 0)
	    return cp + 1;
    }
    return cp;
}

/* sm_copy_quoted - cp at '"': append the quoted string, quotes included */
static const char *sm_copy_quoted(const char *cp, str_t *out)
{
    str_appendc(out, *cp++);
    for (; *cp && *cp != '"'; cp++) {
	if (*cp == '\\' && cp[1])
	    str_appendc(out, *cp++);
	str_appendc(out, *cp);
    }
    str_appendc(out, '"');
    return *cp ? cp + 1 : cp;
}

/* sm_copy_angle - cp after '<': copy up to '>' (comments and space dropped) */
static const char *sm_copy_angle(const char *cp, str_t *out)
{
    while (*cp && *cp != '>') {
	if (*cp == '"')
	    cp = sm_copy_quoted(cp, out);
	else if (*cp == '(')
	    cp = sm_skip_comment(cp);
	else if (*cp == ' ' || *cp == '\t' || *cp == '\r' || *cp == '\n')
	    cp++;
	else
	    str_appendc(out, *cp++);
    }
    return *cp ? cp + 1 : cp;
}

/* sm_addr_list - scan an address list, one callback per address */
int sm_addr_list(const char *text, sm_addr_fn fn, void *context)
{
    sm_scan_t sc = {str_new(64), str_new(64), 0, fn, context, 0};
    const char *cp = text;

    while (*cp) {
	switch (*cp) {
	case '(':
	    cp = sm_skip_comment(cp);
	    break;
	case '"':
	    cp = sm_copy_quoted(cp, sc.plain);
	    break;
	case '<':
	    str_reset(sc.angle);
	    cp = sm_copy_angle(cp + 1, sc.angle);
	    sc.have_angle = 1;
	    break;
	case ':': /* group name: what came before is a phrase */
	    str_reset(sc.plain);
	    cp++;
	    break;
	case ',':
	case ';':
	    sm_scan_flush(&sc);
	    cp++;
	    break;
	case ' ':
	case '\t':
	case '\r':
	case '\n':
	    cp++;
	    break;
	default:
	    str_appendc(sc.plain, *cp++);
	    break;
	}
    }
    sm_scan_flush(&sc);
    str_free(&sc.plain);
    str_free(&sc.angle);
    return sc.count;
}

/* sm_addr_needs_quote - does a display name hold RFC 5322 specials? */
int sm_addr_needs_quote(const char *name)
{
    return strpbrk(name, "()<>[]:;@\\,.\"") != NULL;
}

/* sm_rcpts_add - qualify, de-duplicate and keep one recipient */
void sm_rcpts_add(sm_rcpts_t *r, const char *addr, const char *origin)
{
    char *full;

    if (*addr == 0)
	return;
    full = strchr(addr, '@') ? mr_strdup(addr) : mr_format("%s@%s", addr, origin);
    for (size_t i = 0; i < r->count; i++) {
	if (mr_strcaseeq(r->items[i], full)) {
	    mr_free(full);
	    return;
	}
    }
    if (r->count == r->cap) {
	r->cap = r->cap ? r->cap * 2 : 8;
	r->items = mr_reallocarray(r->items, r->cap, sizeof(*r->items));
    }
    r->items[r->count++] = full;
}

/* sm_rcpts_free - release the recipient list */
void sm_rcpts_free(sm_rcpts_t *r)
{
    for (size_t i = 0; i < r->count; i++)
	mr_free(r->items[i]);
    mr_free(r->items);
    memset(r, 0, sizeof(*r));
}
