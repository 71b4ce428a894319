/*
 * mail_flow.h - flow control between the queue manager and intake.
 *
 * master creates one pipe for the flow tokens when master.conf runs
 * qmgr, and hands it to qmgr and cleanup at MASTER_FLOW_READ_FD and
 * MASTER_FLOW_WRITE_FD (both ends non-blocking). A token is one byte in
 * the pipe. qmgr tops the pipe up to in_flow_limit tokens less the
 * messages it has in memory; cleanup takes one token for each message
 * from smtpd or pickup and, when none is there, waits for one at most
 * in_flow_delay, then takes the message anyway (docs/qmgr.md, "Flow
 * control"). Every function is harmless in a process that did not get
 * the pipe: it reports "no pipe" and does nothing.
 */
#ifndef MR_MAIL_FLOW_H
#define MR_MAIL_FLOW_H

/* mail_flow_probe - at start, before the process opens anything: is the
 * pipe at the flow descriptors? Marks them close-on-exec. 1 yes, 0 no */
int mail_flow_probe(void);
/* mail_flow_enabled - did mail_flow_probe find the pipe? */
int mail_flow_enabled(void);
/* mail_flow_count - tokens in the pipe now; -1 no pipe */
long mail_flow_count(void);
/* mail_flow_put - add n tokens (as many as the pipe takes); the number
 * added, -1 no pipe */
long mail_flow_put(long n);
/* mail_flow_get - take one token, waiting for one at most timeout_ms:
 * 1 taken, 0 none came in time, -1 no pipe */
int mail_flow_get(long timeout_ms);

#endif
