/*
 * resolve.c - recipient -> transport and next hop (rules in resolve.h).
 */
#include <string.h>

#include "global/config.h"
#include "queue/resolve.h"
#include "table/table.h"
#include "util/mymalloc.h"
#include "util/str.h"

static table_list_t *resolve_maps;
static const char *resolve_maps_error;

/* resolve_init - open transport_maps */
int resolve_init(const char **error_r)
{
    table_list_close(&resolve_maps);
    resolve_maps_error = NULL;
    if ((resolve_maps = table_list_open(config_str("transport_maps"), error_r)) == NULL) {
	resolve_maps_error = "transport_maps cannot be opened";
	return -1;
    }
    return 0;
}

void resolve_reply_init(resolve_reply_t *r)
{
    r->transport = str_new(16);
    r->nexthop = str_new(64);
    r->class = 0;
}

void resolve_reply_free(resolve_reply_t *r)
{
    str_free(&r->transport);
    str_free(&r->nexthop);
}

const char *resolve_class_name(int class)
{
    static const char *const names[] = {"?", "local", "virtual", "relay", "default"};

    return class >= RESOLVE_CLASS_LOCAL && class <= RESOLVE_CLASS_DEFAULT ? names[class] : "?";
}

/* resolve_class - the domain's class and its default transport */
static int resolve_class(const char *domain, const char **transport_r)
{
    if (*domain == 0 || config_list_has("mydestination", domain)) {
	*transport_r = config_str("local_transport");
	return RESOLVE_CLASS_LOCAL;
    }
    if (config_list_has("virtual_mailbox_domains", domain)) {
	*transport_r = config_str("virtual_transport");
	return RESOLVE_CLASS_VIRTUAL;
    }
    if (config_list_has("relay_domains", domain)) {
	*transport_r = config_str("relay_transport");
	return RESOLVE_CLASS_RELAY;
    }
    *transport_r = config_str("default_transport");
    return RESOLVE_CLASS_DEFAULT;
}

/* resolve_lookup_one - one transport_maps key: 1 found, 0 not, -1 error */
static int resolve_lookup_one(const char *key, str_t *value, const char **error_r)
{
    return table_list_lookup(resolve_maps, key, value, error_r);
}

/* resolve_maps_find - address, domain, .parents, "*" */
static int resolve_maps_find(const char *addr, const char *domain, str_t *value,
			     const char **error_r)
{
    str_t *key = str_new(64);
    const char *dot;
    int r;

    if ((r = resolve_lookup_one(addr, value, error_r)) == 0 && *domain)
	r = resolve_lookup_one(domain, value, error_r);
    for (dot = domain; r == 0 && (dot = strchr(dot, '.')) != NULL; dot++) {
	str_set(key, dot);
	r = resolve_lookup_one(str_data(key), value, error_r);
    }
    if (r == 0)
	r = resolve_lookup_one("*", value, error_r);
    str_free(&key);
    return r;
}

/* resolve_apply_map - "transport:nexthop" over the class defaults */
static void resolve_apply_map(resolve_reply_t *r, const char *value)
{
    const char *colon = strchr(value, ':');

    if (colon == NULL) {
	if (*value)
	    str_set(r->transport, value);
	return;
    }
    if (colon > value)
	str_setn(r->transport, value, (size_t)(colon - value));
    if (colon[1])
	str_set(r->nexthop, colon + 1);
}

/* resolve_addr - the rules of resolve.h */
int resolve_addr(const char *addr, resolve_reply_t *r, const char **error_r)
{
    const char *at = strrchr(addr, '@'), *transport;
    char *lower = mr_strdup(addr);
    char *domain = lower + (at ? (size_t)(at - addr) + 1 : strlen(addr));
    str_t *value = str_new(64);
    int found = 0;

    lowercase(lower);
    r->class = resolve_class(domain, &transport);
    str_set(r->transport, transport);
    if (r->class == RESOLVE_CLASS_DEFAULT && *config_str("relayhost"))
	str_set(r->nexthop, config_str("relayhost"));
    else
	str_set(r->nexthop, domain);
    if (resolve_maps == NULL && resolve_maps_error != NULL) {
	*error_r = resolve_maps_error;
	found = -1;
    } else if (resolve_maps && !table_list_empty(resolve_maps) &&
	       (found = resolve_maps_find(lower, domain, value, error_r)) > 0) {
	str_set(r->nexthop, domain);
	resolve_apply_map(r, str_data(value));
    }
    mr_free(lower);
    str_free(&value);
    return found < 0 ? -1 : 0;
}
