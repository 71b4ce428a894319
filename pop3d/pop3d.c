/*
 * pop3d.c - the POP3 server (RFC 1939, with RFC 2449 CAPA and response
 * codes, STLS of RFC 2595, AUTH of RFC 5034, port 995 of RFC 8314).
 *
 * What it does: greets the client, offers TLS, takes USER/PASS or AUTH,
 * locks the user's Maildir against a second POP3 session ([IN-USE]),
 * lists and sends its messages (RETR, TOP, LIST, UIDL, STAT), marks
 * deletions (DELE, RSET), and deletes the marked messages only at QUIT
 * (the UPDATE state): a session that ends any other way deletes nothing.
 * UIDL comes from the store's UIDs and UIDVALIDITY (lib/store), so it is
 * stable across sessions. One line of log per session gives the user,
 * the client and what it retrieved and deleted. It serves virtual
 * mailboxes (virtual_mailbox_maps, owned by virtual_uid) and system
 * users (home_mailbox in the passwd entry's home, owned by the user; an
 * mbox in mail_spool_directory when home_mailbox is empty, locked as
 * local locks it only while it is read or rewritten at QUIT).
 *
 * Input it trusts: none from the client. Command lines are bounded
 * (pop3d_line.c: 255 octets with CRLF, as RFC 2449 says; AUTH responses
 * 8190); a longer line ends the session; pop3d_error_limit bad commands
 * end it too; a client idle for pop3d_timeout is disconnected, and so
 * is one not logged in pop3d_login_timeout after it connected (however
 * it trickles its bytes). Message files come from the user's own
 * Maildir and are sent as they are, only with CRLF line ends and
 * byte-stuffing. Passwords are checked by libsasl2 (lib/auth) in a
 * process of their own.
 *
 * Privileges: master.conf runs it as root (unpriv n), not chrooted. The
 * process master starts never reads client input: per connection it
 * forks a login process (pop3d_login_user, chrooted into an empty
 * directory: TLS, CAPA, USER/PASS, AUTH), an auth process (mail_owner:
 * libsasl2), and after a login a mailbox process running as the user
 * (pop3d_split.c has the argument; docs/pop3d.md "Privileges"). TLS keys,
 * the SASL modules and the mailbox table are loaded here, before any
 * fork.
 *
 * Parameters: pop3d_timeout, pop3d_login_timeout, pop3d_error_limit, pop3d_auth_failure_delay,
 * pop3d_sasl_path, pop3d_sasl_local_domain, pop3d_login_domain,
 * pop3d_login_user, pop3d_cleartext_auth, pop3d_tls_security_level,
 * pop3d_tls_wrappermode, pop3d_tls_cert_file, pop3d_tls_key_file,
 * pop3d_tls_protocols, pop3d_tls_ciphers, pop3d_tls_session_cache_timeout,
 * cyrus_sasl_config_path, virtual_mailbox_maps, virtual_mailbox_base,
 * virtual_uid, virtual_gid, home_mailbox, mail_spool_directory,
 * deliver_lock_attempts, deliver_lock_delay, stale_lock_time, mail_owner,
 * myhostname.
 */
#include "master/mail_server.h"
#include "pop3d.h"
#include "util/msg.h"

/* pop3d_service - one client: the split processes do the work */
static void pop3d_service(stream_t *client, const char *service)
{
    (void)service;
    pop3d_split_serve(client);
}

/* pop3d_pre_init - privileged: keys, SASL modules, tables, ids */
static void pop3d_pre_init(const char *service)
{
    (void)service;
    pop3d_tls_pre_init();
    pop3d_auth_init();
    pop3d_split_pre_init();
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.pre_init = pop3d_pre_init,
	.service = pop3d_service,
    };

    msg_init("pop3d");
    return single_server_main(argc, argv, &params);
}
