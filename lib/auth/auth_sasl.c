/*
 * auth_sasl.c - Cyrus SASL server glue: base64 in, base64 out.
 *
 * libsasl2 reads its own configuration (APPNAME.conf, searched in the
 * folders of cyrus_sasl_config_path through the GETCONFPATH callback),
 * loads the mechanism modules at auth_sasl_init, and checks passwords
 * with the backend that file names (sasldb through auxprop, or
 * saslauthd through pwcheck_method). Its own log lines come through the
 * LOG callback as our warnings.
 *
 * Security options are the Postfix words: noanonymous, noplaintext,
 * noactive, nodictionary, mutual_auth, forward_secrecy. With TLS on, the
 * cipher strength is given to libsasl2 as the external SSF, so a
 * "noplaintext" list can be relaxed over TLS by the caller passing a
 * different list (smtpd_sasl_tls_security_options).
 *
 * Bounds: a response is at most AUTH_SASL_MAX_LINE bytes of base64 (the
 * caller reads it with that bound); decoding never overruns (sasl_decode64
 * is given the output size).
 */
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "auth_sasl.h"

#define AUTH_SASL_MAX_DATA 12288 /* decoded response or challenge */

struct auth_sasl {
    sasl_conn_t *conn;
    char *mechs;
    str_t *challenge;             /* last challenge, base64 */
    char bin[AUTH_SASL_MAX_DATA]; /* decoded client data */
};

static char *auth_sasl_conf_path;

/* auth_sasl_log - libsasl2's messages as ours */
static int auth_sasl_log(void *context, int level, const char *message)
{
    (void)context;
    if (level <= SASL_LOG_WARN && level != SASL_LOG_FAIL)
	msg_warn("SASL: %s", message);
    else if (msg_verbose)
	msg_info("SASL: %s", message);
    return SASL_OK;
}

/* auth_sasl_getconfpath - where APPNAME.conf is searched */
static int auth_sasl_getconfpath(void *context, char **path)
{
    (void)context;
    *path = auth_sasl_conf_path;
    return SASL_OK;
}

/* auth_sasl_init - load the modules and the configuration */
int auth_sasl_init(const char *app, const char *conf_path, const char **error_r)
{
    static sasl_callback_t callbacks[] = {
	{SASL_CB_LOG, (int (*)(void))(void (*)(void))auth_sasl_log, NULL},
	{SASL_CB_LIST_END, NULL, NULL},
	{SASL_CB_LIST_END, NULL, NULL},
    };
    int r;

    if (conf_path && *conf_path) {
	auth_sasl_conf_path = mr_strdup(conf_path);
	callbacks[1].id = SASL_CB_GETCONFPATH;
	callbacks[1].proc = (int (*)(void))(void (*)(void))auth_sasl_getconfpath;
    }
    if ((r = sasl_server_init(callbacks, app)) != SASL_OK) {
	*error_r = sasl_errstring(r, NULL, NULL);
	return -1;
    }
    return 0;
}

/* auth_sasl_secprops - the security options as libsasl2 flags */
static unsigned auth_sasl_secprops(const char *list)
{
    static const struct {
	const char *name;
	unsigned flag;
    } words[] = {
	{"noplaintext", SASL_SEC_NOPLAINTEXT},         {"noactive", SASL_SEC_NOACTIVE},
	{"nodictionary", SASL_SEC_NODICTIONARY},       {"noanonymous", SASL_SEC_NOANONYMOUS},
	{"forward_secrecy", SASL_SEC_FORWARD_SECRECY}, {"mutual_auth", SASL_SEC_MUTUAL_AUTH},
    };
    char *copy = mr_strdup(list), *cp = copy, *word;
    unsigned flags = 0;
    size_t i;

    while ((word = next_token(&cp, ", \t\r\n")) != NULL) {
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
	    if (strcasecmp(word, words[i].name) == 0)
		break;
	if (i < sizeof(words) / sizeof(words[0]))
	    flags |= words[i].flag;
	else
	    msg_warn("unknown SASL security option \"%s\" ignored", word);
    }
    mr_free(copy);
    return flags;
}

/* auth_sasl_new - a session's context */
auth_sasl_t *auth_sasl_new(const auth_sasl_args_t *args, const char **error_r)
{
    auth_sasl_t *s = mr_calloc(1, sizeof(*s));
    sasl_security_properties_t props = {0};
    sasl_ssf_t ssf = (sasl_ssf_t)args->tls_bits;
    const char *list;
    int r;

    r = sasl_server_new(args->service, args->server_name,
			args->user_realm && *args->user_realm ? args->user_realm : NULL,
			args->local_addr, args->remote_addr, NULL, 0, &s->conn);
    if (r != SASL_OK) {
	*error_r = sasl_errstring(r, NULL, NULL);
	mr_free(s);
	return NULL;
    }
    props.max_ssf = 0; /* no SASL security layer: TLS does that */
    props.maxbufsize = 0;
    props.security_flags = auth_sasl_secprops(args->security_options);
    if (sasl_setprop(s->conn, SASL_SEC_PROPS, &props) != SASL_OK ||
	(ssf > 0 && sasl_setprop(s->conn, SASL_SSF_EXTERNAL, &ssf) != SASL_OK)) {
	*error_r = sasl_errdetail(s->conn);
	auth_sasl_free(&s);
	return NULL;
    }
    if (sasl_listmech(s->conn, NULL, "", " ", "", &list, NULL, NULL) != SASL_OK)
	list = "";
    s->mechs = mr_strdup(list);
    s->challenge = str_new(64);
    return s;
}

/* auth_sasl_free - release */
void auth_sasl_free(auth_sasl_t **sp)
{
    auth_sasl_t *s = *sp;

    if (s == NULL)
	return;
    sasl_dispose(&s->conn);
    mr_free(s->mechs);
    str_free(&s->challenge);
    memset(s->bin, 0, sizeof(s->bin));
    mr_free(s);
    *sp = NULL;
}

const char *auth_sasl_mechs(auth_sasl_t *s)
{
    return s->mechs;
}

const char *auth_sasl_username(auth_sasl_t *s)
{
    const void *user = NULL;

    if (sasl_getprop(s->conn, SASL_USERNAME, &user) != SASL_OK || user == NULL)
	return NULL;
    return user;
}

const char *auth_sasl_last_challenge(auth_sasl_t *s)
{
    return str_data(s->challenge);
}

/* auth_sasl_offered - is mech in the offered list (case-insensitive)? */
static int auth_sasl_offered(auth_sasl_t *s, const char *mech)
{
    size_t n = strlen(mech);

    for (const char *cp = s->mechs; (cp = strcasestr(cp, mech)) != NULL; cp += n)
	if ((cp == s->mechs || cp[-1] == ' ') && (cp[n] == 0 || cp[n] == ' '))
	    return 1;
    return 0;
}

/* auth_sasl_decode - base64 response into s->bin; length or -1 */
static int auth_sasl_decode(auth_sasl_t *s, const char *b64)
{
    unsigned len = 0;

    if (strcmp(b64, "=") == 0)
	return 0;
    if (sasl_decode64(b64, (unsigned)strlen(b64), s->bin, sizeof(s->bin) - 1, &len) != SASL_OK)
	return -1;
    s->bin[len] = 0;
    return (int)len;
}

/* auth_sasl_result - map a libsasl2 result; challenge into out */
static int auth_sasl_result(auth_sasl_t *s, int r, const char *data, unsigned len, str_t *out,
			    const char **reason_r)
{
    char b64[AUTH_SASL_MAX_DATA * 4 / 3 + 8];
    unsigned b64len = 0;

    switch (r) {
    case SASL_OK:
	return auth_sasl_username(s) ? AUTH_SASL_OK : AUTH_SASL_ERROR;
    case SASL_CONTINUE:
	if (len > AUTH_SASL_MAX_DATA ||
	    sasl_encode64(data ? data : "", len, b64, sizeof(b64), &b64len) != SASL_OK) {
	    *reason_r = "challenge too long";
	    return AUTH_SASL_ERROR;
	}
	str_setn(out, b64, b64len);
	str_setn(s->challenge, b64, b64len);
	return AUTH_SASL_MORE;
    case SASL_NOMECH:
	*reason_r = "mechanism not available";
	return AUTH_SASL_NOMECH;
    case SASL_ENCRYPT:
	*reason_r = "encryption needed to use mechanism";
	return AUTH_SASL_ENCRYPT;
    case SASL_BADAUTH:
    case SASL_NOUSER:
    case SASL_BADPROT:
    case SASL_BADPARAM:
    case SASL_NOAUTHZ:
    case SASL_EXPIRED:
    case SASL_DISABLED:
    case SASL_NOVERIFY:
	*reason_r = "authentication failure";
	return AUTH_SASL_FAIL;
    default:
	*reason_r = sasl_errdetail(s->conn);
	return AUTH_SASL_ERROR;
    }
}

/* auth_sasl_start - the first step */
int auth_sasl_start(auth_sasl_t *s, const char *mech, const char *initial, str_t *out,
		    const char **reason_r)
{
    const char *data = NULL;
    unsigned len = 0;
    int n = 0;

    str_reset(s->challenge);
    if (!auth_sasl_offered(s, mech)) {
	*reason_r = "mechanism not available";
	return AUTH_SASL_NOMECH;
    }
    if (initial && (n = auth_sasl_decode(s, initial)) < 0) {
	*reason_r = "malformed initial response";
	return AUTH_SASL_BADB64;
    }
    n = sasl_server_start(s->conn, mech, initial ? s->bin : NULL, (unsigned)n, &data, &len);
    return auth_sasl_result(s, n, data, len, out, reason_r);
}

/* auth_sasl_step - the next step */
int auth_sasl_step(auth_sasl_t *s, const char *response, str_t *out, const char **reason_r)
{
    const char *data = NULL;
    unsigned len = 0;
    int n;

    if ((n = auth_sasl_decode(s, response)) < 0) {
	*reason_r = "malformed response";
	return AUTH_SASL_BADB64;
    }
    n = sasl_server_step(s->conn, s->bin, (unsigned)n, &data, &len);
    return auth_sasl_result(s, n, data, len, out, reason_r);
}
