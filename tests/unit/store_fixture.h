/*
 * store_fixture.h - what the unit tests of lib/store share: fresh
 * mailboxes, files put into them and read back, messages read through
 * the store.
 */
#ifndef MR_STORE_FIXTURE_H
#define MR_STORE_FIXTURE_H

#include "store/store.h"
#include "util/str.h"

/* fx_new_box - a fresh mailbox path under the test's temporary directory
 * (nothing made yet; store_open makes it), mr_alloc'd */
char *fx_new_box(void);

/* fx_open - store_open of box, which must work */
store_t *fx_open(const char *box);

/* fx_put - create or replace box/sub/name with text ("." as sub for the
 * mailbox directory itself) */
void fx_put(const char *box, const char *sub, const char *name, const char *text);

/* fx_deliver - a message into box/new, as local leaves it */
void fx_deliver(const char *box, const char *name, const char *text);

/* fx_slurp - the content of box/name ("" when it is missing) */
str_t *fx_slurp(const char *box, const char *name);

/* fx_read_uid - the content store_msg_open gives for uid, which must open */
str_t *fx_read_uid(store_t *st, unsigned long uid);

/* fx_exists - does box/sub/name exist? 1 or 0 */
int fx_exists(const char *box, const char *sub, const char *name);

#endif
