/*
 * smtpd_addr.c - MAIL/RCPT argument parsing (see smtpd_addr.h).
 *
 * The grammar follows RFC 5321 section 4.1.2, with two leniencies that
 * deployed clients rely on: blanks after "FROM:"/"TO:" and a missing
 * pair of angle brackets. Everything else is strict: control bytes,
 * unbalanced quotes or brackets and over-long addresses are rejected.
 */
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "util/mymalloc.h"
#include "util/str.h"
#include "smtpd_addr.h"

/* addr_skip_blanks - advance over spaces and tabs */
static char *addr_skip_blanks(char *cp)
{
    while (*cp == ' ' || *cp == '\t')
	cp++;
    return cp;
}

/* addr_find_close - the '>' that closes a path, honouring quotes */
static char *addr_find_close(char *cp)
{
    int quoted = 0;

    for (; *cp; cp++) {
	if (quoted && *cp == '\\' && cp[1])
	    cp++;
	else if (*cp == '"')
	    quoted = !quoted;
	else if (!quoted && *cp == '>')
	    return cp;
	else if (!quoted && *cp == '<')
	    return NULL;
    }
    return NULL;
}

/* addr_drop_route - remove an obsolete "@a,@b:" source route */
static char *addr_drop_route(char *addr)
{
    char *colon;

    if (*addr != '@')
	return addr;
    if ((colon = strchr(addr, ':')) == NULL)
	return NULL;
    return colon + 1;
}

/* smtpd_addr_split - separate the address from the parameters */
int smtpd_addr_split(char *args, const char *kw, char **addr_r, char **params_r)
{
    size_t kwlen = strlen(kw);
    char *cp, *end, *addr;

    if (strncasecmp(args, kw, kwlen) != 0 || args[kwlen] != ':')
	return -1;
    cp = addr_skip_blanks(args + kwlen + 1);
    if (*cp == '<') {
	if ((end = addr_find_close(cp + 1)) == NULL)
	    return -1;
	*end++ = 0;
	addr = cp + 1;
	if (*end != 0 && *end != ' ' && *end != '\t')
	    return -1;
    } else {
	if (*cp == 0)
	    return -1;
	addr = cp;
	end = cp + strcspn(cp, " \t");
	if (*end)
	    *end++ = 0;
	if (strchr(addr, '<') || strchr(addr, '>'))
	    return -1;
    }
    if ((addr = addr_drop_route(addr)) == NULL)
	return -1;
    *addr_r = addr;
    *params_r = addr_skip_blanks(end);
    return 0;
}

/* addr_atext - may ch appear in an unquoted local part? */
static int addr_atext(int ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-/=?^_`{|}~.", ch) != NULL);
}

/* addr_check_local - dot-atom or quoted-string local part */
static int addr_check_local(const char *cp, const char *end, int *utf8)
{
    if (cp == end)
	return -1;
    if (*cp == '"') {
	for (cp++; cp < end - 1; cp++) {
	    if (*cp == '\\' && cp + 1 < end - 1)
		cp++;
	    else if (*cp == '"')
		return -1;
	    if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
		return -1;
	    if ((unsigned char)*cp >= 0x80)
		*utf8 = 1;
	}
	return (cp == end - 1 && *cp == '"') ? 0 : -1;
    }
    if (*cp == '.' || end[-1] == '.')
	return -1;
    for (; cp < end; cp++) {
	if ((unsigned char)*cp >= 0x80)
	    *utf8 = 1;
	else if (!addr_atext((unsigned char)*cp) || (*cp == '.' && cp[1] == '.'))
	    return -1;
    }
    return 0;
}

/* addr_check_domain - host name labels or an address literal */
static int addr_check_domain(const char *cp, int *utf8)
{
    size_t label = 0;

    if (*cp == '[') {
	size_t n = strlen(cp);

	if (n < 3 || cp[n - 1] != ']')
	    return -1;
	return strspn(cp + 1, "0123456789abcdefABCDEF.:IPvV6") == n - 2 ? 0 : -1;
    }
    if (*cp == 0 || *cp == '.' || *cp == '-')
	return -1;
    for (; *cp; cp++) {
	unsigned char ch = (unsigned char)*cp;

	if (ch == '.') {
	    if (label == 0 || cp[-1] == '-')
		return -1;
	    label = 0;
	    continue;
	}
	if (ch >= 0x80)
	    *utf8 = 1;
	else if (!isalnum(ch) && ch != '-')
	    return -1;
	if (++label > 63)
	    return -1;
    }
    return cp[-1] == '-' ? -1 : 0;
}

/* smtpd_addr_check - validate a mailbox */
int smtpd_addr_check(const char *addr, int utf8_ok)
{
    const char *at = NULL, *cp;
    int quoted = 0, utf8 = 0;

    if (strlen(addr) > SMTPD_ADDR_MAX || *addr == 0)
	return SMTPD_ADDR_BAD;
    /* the last '@' outside quotes separates the domain */
    for (cp = addr; *cp; cp++) {
	if (quoted && *cp == '\\' && cp[1])
	    cp++;
	else if (*cp == '"')
	    quoted = !quoted;
	else if (!quoted && *cp == '@')
	    at = cp;
    }
    if (quoted)
	return SMTPD_ADDR_BAD;
    if (addr_check_local(addr, at ? at : cp, &utf8) < 0)
	return SMTPD_ADDR_BAD;
    if (at && addr_check_domain(at + 1, &utf8) < 0)
	return SMTPD_ADDR_BAD;
    if (utf8 && !utf8_ok)
	return SMTPD_ADDR_UTF8;
    if (utf8 && !utf8_valid(addr, strlen(addr)))
	return SMTPD_ADDR_BAD_UTF8;
    return SMTPD_ADDR_OK;
}

/* smtpd_param_next - one ESMTP parameter */
int smtpd_param_next(char **cursor, char **name_r, char **value_r)
{
    char *cp = addr_skip_blanks(*cursor), *eq, *end;

    if (*cp == 0)
	return 0;
    end = cp + strcspn(cp, " \t");
    if (*end)
	*end++ = 0;
    *cursor = end;
    if ((eq = strchr(cp, '=')) != NULL) {
	*eq = 0;
	*value_r = eq + 1;
    } else {
	*value_r = NULL;
    }
    *name_r = cp;
    if (*cp == 0 || !isalnum((unsigned char)*cp))
	return -1;
    for (; *cp; cp++)
	if (!isalnum((unsigned char)*cp) && *cp != '-')
	    return -1;
    for (cp = *value_r; cp && *cp; cp++)
	if ((unsigned char)*cp < 0x21 || (unsigned char)*cp > 0x7e)
	    return -1;
    return 1;
}

/* xtext_hex - value of an upper-case hex digit, or -1 */
static int xtext_hex(int ch)
{
    if (ch >= '0' && ch <= '9')
	return ch - '0';
    if (ch >= 'A' && ch <= 'F')
	return ch - 'A' + 10;
    return -1;
}

/* smtpd_xtext_decode - decode "+XX" escapes */
int smtpd_xtext_decode(const char *in, str_t *out)
{
    str_reset(out);
    for (; *in; in++) {
	int ch = (unsigned char)*in;

	if (ch == '+') {
	    int hi = xtext_hex((unsigned char)in[1]), lo;

	    if (hi < 0 || (lo = xtext_hex((unsigned char)in[2])) < 0)
		return -1;
	    ch = hi * 16 + lo;
	    in += 2;
	} else if (ch == '=' || ch < 0x21 || ch > 0x7e) {
	    return -1;
	}
	if (ch < 0x20 || ch > 0x7e)
	    return -1;
	str_appendc(out, ch);
    }
    return 0;
}

/* smtpd_size_parse - digits to a number, saturating */
int smtpd_size_parse(const char *in, long long *size_r)
{
    long long n = 0;

    if (*in == 0)
	return -1;
    for (; *in; in++) {
	if (!isdigit((unsigned char)*in))
	    return -1;
	if (n > (LLONG_MAX - 9) / 10)
	    n = LLONG_MAX;
	else
	    n = n * 10 + (*in - '0');
    }
    *size_r = n;
    return 0;
}

/* smtpd_notify_check - NEVER or SUCCESS/FAILURE/DELAY list */
int smtpd_notify_check(const char *value)
{
    const char *cp = value;
    int count = 0;

    if (strcasecmp(value, "NEVER") == 0)
	return 0;
    while (*cp) {
	size_t n = strcspn(cp, ",");

	if (!((n == 7 && strncasecmp(cp, "SUCCESS", 7) == 0) ||
	      (n == 7 && strncasecmp(cp, "FAILURE", 7) == 0) ||
	      (n == 5 && strncasecmp(cp, "DELAY", 5) == 0)))
	    return -1;
	count++;
	cp += n;
	if (*cp == ',' && *++cp == 0)
	    return -1;
    }
    return count > 0 ? 0 : -1;
}

/* smtpd_rcpt_dsn_param - NOTIFY= or ORCPT= of one RCPT command */
int smtpd_rcpt_dsn_param(char *name, char *value, char **notify_r, char **orcpt_r, str_t *tmp)
{
    char *semi;

    if (strcasecmp(name, "NOTIFY") == 0 && value && !*notify_r) {
	if (smtpd_notify_check(value) < 0)
	    return -1;
	*notify_r = mr_strdup(value);
	return 0;
    }
    if (strcasecmp(name, "ORCPT") == 0 && value && !*orcpt_r) {
	if ((semi = strchr(value, ';')) == NULL || semi == value ||
	    smtpd_xtext_decode(semi + 1, tmp) < 0 || str_len(tmp) == 0)
	    return -1;
	*semi = 0;
	*orcpt_r = mr_format("%s;%s", value, str_data(tmp));
	return 0;
    }
    return -1;
}
