/*
 * showq.c - the showq service: the mail queue listing for local users.
 *
 * What it does: the queue directories are private to mail_owner, so an
 * ordinary user's mailq (mailroom-queue -p, sendmail -bp) cannot read
 * them. It asks this service instead, over public/showq. showq names its
 * protocol, reads one request, writes the listing, and closes:
 *
 *   showq:  protocol=showq
 *   client: request=list     (the mailq layout)  | request=json  (-j)
 *   showq:  the listing text, then end of file
 *
 * The listing is made by the same code as mailroom-queue's own
 * (lib/queue/qshow.c), so the two cannot differ. Problems with single
 * queue files (corrupt, unreadable) go to the mail log, not to the user.
 *
 * Input it trusts: none. Any local user who can reach public/showq may
 * connect (public/ is mode 0710, group setgid_group, so in practice the
 * set-gid mailroom-queue does it on the user's behalf). The request is
 * one attribute list, bounded by the attribute reader; anything but
 * "list" or "json" is logged and the connection closed. Nothing from the
 * client names a file: showq only walks the fixed queue directories.
 * What it reveals is what mailq shows on any Postfix-like system: queue
 * IDs, sizes, arrival times, senders, recipients and delay reasons of
 * every queued message, never message content.
 *
 * Privileges: runs as mail_owner (master.conf: unpriv y), and refuses to
 * run as root: it needs nothing more than read access to the queue. It
 * is chrooted into queue_directory in the shipped master.conf (the time
 * zone is loaded before the chroot, for the arrival times it prints). One client at a time per
 * process (single_server_main); master starts more, up to the maxproc column.
 *
 * Parameters: queue_directory, hash_queue_names, hash_queue_depth, and
 * those of the server skeleton (max_use, max_idle, ipc_timeout).
 */
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "queue/qshow.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/stream.h"

/* showq_post_init - make sure the privilege drop happened */
static void showq_post_init(const char *service)
{
    if (geteuid() == 0)
	msg_fatal("showq must not run as root: set the unpriv column of the "
		  "%s service to y in master.conf",
		  service);
}

/* showq_json - 1 for request=json, 0 for request=list, -1 for anything else */
static int showq_json(const attr_list_t *req)
{
    const char *what = attr_get(req, MAIL_ATTR_REQUEST);

    if (what != NULL && strcmp(what, MAIL_REQ_LIST) == 0)
	return 0;
    if (what != NULL && strcmp(what, MAIL_REQ_JSON) == 0)
	return 1;
    msg_warn("bad request \"%.100s\" from a client", what ? what : "(none)");
    return -1;
}

/* showq_service - one client: handshake, request, listing */
static void showq_service(stream_t *client, const char *service)
{
    attr_list_t *req = attr_list_new();
    int json;

    if (attr_send_protocol(client, MAIL_PROTO_SHOWQ) < 0) {
	msg_warn("lost the client before the handshake");
    } else if (attr_read(client, req) != 1) {
	msg_warn("no valid request from the client");
    } else if ((json = showq_json(req)) >= 0) {
	/* a client that stops reading (mailq | head) is no problem */
	if (qshow_list(client, json) == EX_IOERR && msg_verbose)
	    msg_info("the client went away during the listing");
    }
    attr_list_free(&req);
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.post_init = showq_post_init,
	.service = showq_service,
    };

    msg_init("showq");
    return single_server_main(argc, argv, &params);
}
