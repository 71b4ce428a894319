/*
 * net_list.c - matching an address against a network list (see
 * net_list.h).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "net_list.h"

/* net_parse - "addr[/len]" or "[addr][/len]" into family, bytes, prefix
 * length; 0 ok, -1 not an address */
static int net_parse(const char *word, int *family, unsigned char *bytes, int *plen)
{
    char buf[80], *slash, *host = buf;
    size_t n;

    if (mr_strlcpy(buf, word, sizeof(buf)) >= sizeof(buf))
	return -1;
    *plen = -1;
    if ((slash = strrchr(buf, '/')) != NULL) {
	char *end;

	*slash = 0;
	*plen = (int)strtol(slash + 1, &end, 10);
	if (*end || slash[1] == 0)
	    return -1;
    }
    if (*host == '[') {
	n = strlen(host);
	if (n < 3 || host[n - 1] != ']')
	    return -1;
	host[n - 1] = 0;
	host++;
    }
    if (inet_pton(AF_INET, host, bytes) == 1)
	*family = AF_INET;
    else if (inet_pton(AF_INET6, host, bytes) == 1)
	*family = AF_INET6;
    else
	return -1;
    if (*plen < 0)
	*plen = *family == AF_INET ? 32 : 128;
    return (*plen > (*family == AF_INET ? 32 : 128)) ? -1 : 0;
}

/* net_prefix_match - do the first plen bits agree? */
static int net_prefix_match(const unsigned char *a, const unsigned char *b, int plen)
{
    int bytes = plen / 8, bits = plen % 8;

    if (memcmp(a, b, (size_t)bytes) != 0)
	return 0;
    if (bits == 0)
	return 1;
    return ((a[bytes] ^ b[bytes]) & (0xff << (8 - bits)) & 0xff) == 0;
}

/* net_list_match - match a numeric address against a list */
int net_list_match(const char *addr, const char *list)
{
    unsigned char client[16], net[16];
    int family, net_family, plen, ignore, found = 0;
    char *copy, *cp, *word;

    if (net_parse(addr, &family, client, &ignore) < 0)
	return 0;
    cp = copy = mr_strdup(list);
    while (!found && (word = next_token(&cp, ", \t\r\n")) != NULL) {
	if (net_parse(word, &net_family, net, &plen) < 0) {
	    msg_warn("network list: ignoring \"%s\": not an address or address/prefix", word);
	    continue;
	}
	found = (net_family == family && net_prefix_match(client, net, plen));
    }
    mr_free(copy);
    return found;
}
