/*
 * mail_proto.h - names shared between daemons: services, protocols,
 * attributes, and the fixed descriptors master hands its children.
 *
 * Every service socket lives under the queue directory: "private/NAME"
 * for daemons only, "public/NAME" for local users' commands.
 */
#ifndef MR_MAIL_PROTO_H
#define MR_MAIL_PROTO_H

/* Service sockets, relative to queue_directory */
#define MAIL_SOCK_CLEANUP "private/cleanup"
#define MAIL_SOCK_QMGR "public/qmgr"
#define MAIL_SOCK_PICKUP "public/pickup"
#define MAIL_SOCK_SHOWQ "public/showq"
#define MAIL_SOCK_TABLED "private/tabled"
#define MAIL_SOCK_ANVIL "private/anvil"
#define MAIL_SOCK_AGENT_DIR "private" /* delivery agents: private/TRANSPORT */

/* Protocol names sent in the handshake (attr_send_protocol) */
#define MAIL_PROTO_CLEANUP "cleanup"
#define MAIL_PROTO_TABLED "tabled"
#define MAIL_PROTO_ANVIL "anvil"
#define MAIL_PROTO_DELIVERY "delivery" /* qmgr -> agents (deliver_request.h) */
#define MAIL_PROTO_SHOWQ "showq"

/*
 * Request values (MAIL_ATTR_REQUEST).
 *   tabled:  request=lookup table=NAME key=KEY
 *   showq:   request=list (the mailq layout) | request=json; showq answers
 *            with the listing (lib/queue/qshow.c), then closes
 */
#define MAIL_REQ_LOOKUP "lookup"
#define MAIL_REQ_LIST "list"
#define MAIL_REQ_JSON "json"

/* Attribute names */
#define MAIL_ATTR_PROTOCOL "protocol"
#define MAIL_ATTR_QUEUE_ID "queue_id"
#define MAIL_ATTR_STATUS "status"
#define MAIL_ATTR_REASON "reason"
#define MAIL_ATTR_CORRUPT "corrupt" /* delivery reply: the queue file is corrupt */
#define MAIL_ATTR_FLAGS "flags"
#define MAIL_ATTR_SENDER "sender"
#define MAIL_ATTR_RCPT "rcpt"
#define MAIL_ATTR_TABLE "table"
#define MAIL_ATTR_KEY "key"
#define MAIL_ATTR_VALUE "value"
#define MAIL_ATTR_REQUEST "request"

/* anvil (docs/anvil.md): request=connect|disconnect|message|auth_failure|
 * lookup ident=SERVICE:ADDRESS; replies status=0 count= rate= message_rate=
 * auth_failure_rate= */
#define ANVIL_REQ_CONNECT "connect"
#define ANVIL_REQ_DISCONNECT "disconnect"
#define ANVIL_REQ_MESSAGE "message"
#define ANVIL_REQ_LOOKUP "lookup"
#define ANVIL_REQ_AUTH_FAILURE "auth_failure"
#define MAIL_ATTR_IDENT "ident"
#define MAIL_ATTR_COUNT "count"
#define MAIL_ATTR_RATE "rate"
#define MAIL_ATTR_MAIL_RATE "message_rate"
#define MAIL_ATTR_AUTH_RATE "auth_failure_rate"

/* Delivery requests (lib/queue/deliver_request.h); per-recipient names
 * get ".I" appended (rcpt.0, offset.0, status.0, ...) */
#define MAIL_ATTR_QUEUE_NAME "queue_name"
#define MAIL_ATTR_TRANSPORT "transport"
#define MAIL_ATTR_NEXTHOP "nexthop"
#define MAIL_ATTR_SIZE "size"
#define MAIL_ATTR_ARRIVAL_TIME "arrival_time"
#define MAIL_ATTR_ACTIVE_TIME "active_time"
#define MAIL_ATTR_ENVID "envid"
#define MAIL_ATTR_RET "ret"
#define MAIL_ATTR_RCPT_COUNT "rcpt_count"
#define MAIL_ATTR_ORCPT "orcpt"
#define MAIL_ATTR_NOTIFY "notify"
#define MAIL_ATTR_OFFSET "offset"
#define MAIL_ATTR_DSN "dsn"
#define MAIL_ATTR_MORE "more" /* delivery: another request follows (batch) */

/* Per-recipient delivery logs (defer/, bounce/: lib/queue/qlog.h) */
#define MAIL_ATTR_ACTION "action"
#define MAIL_ATTR_RELAY "relay"
#define MAIL_ATTR_TIME "time"
#define MAIL_ATTR_RECIPIENT "recipient" /* older name of rcpt in those logs */

/* Queue directories, relative to queue_directory */
#define MAIL_QUEUE_MAILDROP "maildrop"
#define MAIL_QUEUE_INCOMING "incoming"
#define MAIL_QUEUE_ACTIVE "active"
#define MAIL_QUEUE_DEFERRED "deferred"
#define MAIL_QUEUE_HOLD "hold"
#define MAIL_QUEUE_CORRUPT "corrupt"
#define MAIL_QUEUE_BOUNCE "bounce"
#define MAIL_QUEUE_DEFER "defer"
#define MAIL_QUEUE_QUARANTINE "quarantine"
#define MAIL_QUEUE_RECYCLE "recycle" /* emptied files for reuse (qfile_recycle.c) */

/* Wake-up triggers (one byte on public/qmgr) */
#define TRIGGER_WAKEUP 'W' /* new mail in incoming */
#define TRIGGER_FLUSH 'F'  /* retry deferred mail now */

/*
 * Descriptors a child of master finds open (see lib/master/mail_server.h):
 * the status pipe to master, then the listening socket(s).
 */
#define MASTER_STATUS_FD 3
#define MASTER_LISTEN_FD 4

/*
 * The status slots of a service (lib/master/mail_server.c, master/master_spawn.c):
 * a shared page of MASTER_SLOTS_SIZE bytes, one per process, at
 * MASTER_SLOTS_FD while a child starts (-i names its byte). A process
 * keeps its byte at MASTER_SLOT_IDLE while it waits for a client and at
 * MASTER_SLOT_BUSY while it serves one; master counts idle processes
 * there instead of being woken for every change. Master sets a new
 * process's byte to MASTER_SLOT_BUSY: it is not idle before it says so.
 */
#define MASTER_SLOTS_FD 5
#define MASTER_SLOTS_SIZE 4096
#define MASTER_SLOT_BUSY 0
#define MASTER_SLOT_IDLE 1

/*
 * The flow-control pipe (lib/global/mail_flow.h): master creates it when
 * master.conf runs qmgr and gives both ends to qmgr and cleanup only.
 */
#define MASTER_FLOW_READ_FD 6
#define MASTER_FLOW_WRITE_FD 7

#endif
