/*
 * anvil_client.h - asking anvil to count sessions, connections and
 * messages per client (protocol in docs/anvil.md).
 *
 * An ident names what is counted: "SERVICE:ADDRESS" (anvil_client_ident).
 * Every call returns 0, or -1 with a reason in *error_r (static storage,
 * valid until the next call) when anvil cannot be asked: the caller then
 * goes on without counting ("fail open") and logs the reason.
 */
#ifndef MR_ANVIL_CLIENT_H
#define MR_ANVIL_CLIENT_H

typedef struct anvil_client anvil_client_t;

/* anvil_client_new - a client for the anvil socket at path (connects at
 * the first request; waits at most anvil_ipc_timeout for anvil) */
anvil_client_t *anvil_client_new(const char *path);
/* anvil_client_free - disconnect (anvil closes our sessions), clear *ap */
void anvil_client_free(anvil_client_t **ap);
/* anvil_client_ident - "SERVICE:ADDRESS" in static storage */
const char *anvil_client_ident(const char *service, const char *addr);
/* anvil_client_connect - a session opens: sessions open now and
 * connections in this rate window, this one included */
int anvil_client_connect(anvil_client_t *a, const char *ident, long *count_r, long *rate_r,
			 const char **error_r);
/* anvil_client_disconnect - the session opened with connect is over */
int anvil_client_disconnect(anvil_client_t *a, const char *ident, const char **error_r);
/* anvil_client_message - a message: messages in this window, it included */
int anvil_client_message(anvil_client_t *a, const char *ident, long *rate_r, const char **error_r);
/* anvil_client_auth_failure - a failed authentication: failures in this
 * window, it included */
int anvil_client_auth_failure(anvil_client_t *a, const char *ident, long *rate_r,
			      const char **error_r);
/* anvil_client_auth_lookup - failed authentications in this window,
 * counting nothing */
int anvil_client_auth_lookup(anvil_client_t *a, const char *ident, long *rate_r,
			     const char **error_r);

#endif
