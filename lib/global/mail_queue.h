/*
 * mail_queue.h - where things under queue_directory are, as this
 * process must open them (chrooted into the queue directory or not).
 */
#ifndef MR_MAIL_QUEUE_H
#define MR_MAIL_QUEUE_H

/* mail_queue_path - queue_directory-relative path as this process must
 * open it; returns static storage, overwritten by the next call */
const char *mail_queue_path(const char *relative);
/* mail_queue_chrooted - are we running chrooted into the queue directory? */
int mail_queue_chrooted(void);
/* mail_queue_set_chrooted - recorded by the server skeleton after chroot */
void mail_queue_set_chrooted(int yes);

#endif
