/*
 * fuzz_store_files.c - libFuzzer target for the other files the store
 * reads: an mbox (messages found must lie inside the file, and each
 * unescaped content must have the size the scan announced), a
 * maildirsize, a dovecot-keywords file, and the index itself (the
 * deeper checks of the index are fuzz_store_index's).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"

/* check_mbox - scan data as an mbox and check every message found */
/* check_pieces - the unescaper fed 1 and 7 bytes at a time gives whole */
static void check_pieces(const char *raw, size_t len, const str_t *whole)
{
    str_t *out = str_new(256);
    store_unescaper_t u;

    for (size_t step = 1; step <= 7; step += 6) {
	str_reset(out);
	store_unescape_init(&u);
	for (size_t i = 0; i < len; i += step)
	    store_unescape_feed(&u, raw + i, len - i < step ? len - i : step, out);
	store_unescape_end(&u, out);
	if (str_len(out) != str_len(whole) || memcmp(str_data(out), str_data(whole), str_len(out)))
	    abort();
    }
    str_free(&out);
}

static void check_mbox(const uint8_t *data, size_t len)
{
    int fd = memfd_create("mbox", 0);
    cur_list_t cl = {0};
    str_t *out = str_new(256);

    if (fd < 0 || write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0)
	abort();
    if (store_mbox_scan_fd(fd, &cl) < 0)
	abort();
    for (size_t i = 0; i < cl.n; i++) {
	const cur_file_t *f = &cl.v[i];

	if (f->offset < 0 || f->raw_size < 0 || (size_t)(f->offset + f->raw_size) > len ||
	    f->size > f->raw_size || f->vsize < f->size || !store_name_ok(f->base))
	    abort();
	str_reset(out);
	store_mbox_unescape((const char *)data + f->offset, (size_t)f->raw_size, out);
	if ((off_t)str_len(out) != f->size)
	    abort();
	check_pieces((const char *)data + f->offset, (size_t)f->raw_size, out);
    }
    cur_free(&cl);
    str_free(&out);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    store_t st = {0}, idx = {0};
    store_quota_t q;
    char *text = mr_memdup(data, len);
    size_t end;

    if (store_index_parse(&idx, text, len, &end) == 0 && end > len)
	abort();
    store_index_clear(&idx);
    mr_free(text);
    text = mr_strndup((const char *)data, len);

    check_mbox(data, len);
    (void)store_quota_parse(text, &q);
    mr_free(text);
    text = mr_strndup((const char *)data, len);
    store_keywords_parse(&st, text);
    for (int i = 0; i < STORE_MAX_KEYWORDS; i++) {
	if (st.keywords[i] && !store_keyword_ok(st.keywords[i]))
	    abort();
	mr_free(st.keywords[i]);
    }
    mr_free(text);
    return 0;
}
