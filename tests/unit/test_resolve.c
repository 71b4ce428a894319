/*
 * test_resolve.c - address resolution, table-driven: each address in
 * data/resolve.in is resolved and "address transport nexthop class" is
 * compared with the same line of data/resolve.ref.
 */
#include <stdio.h>
#include <string.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "queue/resolve.h"
#include "util/str.h"

#define DATA_DIR "tests/unit/data/"

/* base_config - the configuration every case starts from */
static void base_config(void)
{
    config_override("mydestination", "mx.example.test, localhost");
    config_override("virtual_mailbox_domains", "virt.example");
    config_override("relay_domains", "relay.example");
    config_override("relayhost", "");
    config_override("transport_maps",
		    "inline:{.lmtp.example=lmtp:unix:/run/lmtp, lmtp.example=lmtp:unix:/run/lmtp,"
		    " pinned.example=smtp:[mx.pinned.example]:2525,"
		    " nexthop-only.example=:[relay.nexthop.example],"
		    " local-only.example=local,"
		    " special@elsewhere.example=error:user has moved}");
}

/* chomp - strip the line end */
static char *chomp(char *line)
{
    line[strcspn(line, "\r\n")] = 0;
    return line;
}

/* test_golden - every line of resolve.in against resolve.ref */
static void test_golden(void **state)
{
    FILE *in = fopen(DATA_DIR "resolve.in", "r"), *ref = fopen(DATA_DIR "resolve.ref", "r");
    char line[512], want[512];
    const char *why;
    resolve_reply_t r;
    str_t *got = str_new(100);
    int cases = 0;

    assert_non_null(in);
    assert_non_null(ref);
    base_config();
    assert_int_equal(resolve_init(&why), 0);
    resolve_reply_init(&r);
    while (fgets(line, sizeof(line), in)) {
	chomp(line);
	if (line[0] == '#' || line[0] == 0)
	    continue;
	if (strncmp(line, "set ", 4) == 0) {
	    assert_int_equal(config_parse_override(line + 4), 0);
	    assert_int_equal(resolve_init(&why), 0);
	    continue;
	}
	assert_int_equal(resolve_addr(line, &r, &why), 0);
	str_printf(got, "%s %s %s %s", line, str_data(r.transport), str_data(r.nexthop),
		   resolve_class_name(r.class));
	assert_non_null(fgets(want, sizeof(want), ref));
	if (strcmp(chomp(want), str_data(got)) != 0)
	    fail_msg("resolve: got \"%s\", want \"%s\"", str_data(got), want);
	cases++;
    }
    assert_null(fgets(want, sizeof(want), ref));
    assert_true(cases > 10);
    resolve_reply_free(&r);
    str_free(&got);
    fclose(in);
    fclose(ref);
}

/* test_table_error - a table that cannot be opened is a temporary error */
static void test_table_error(void **state)
{
    const char *why;
    resolve_reply_t r;

    config_override("transport_maps", "cdb:/nonexistent/transport");
    assert_int_equal(resolve_init(&why), -1);
    resolve_reply_init(&r);
    assert_int_equal(resolve_addr("a@elsewhere.example", &r, &why), -1);
    resolve_reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_golden),
	cmocka_unit_test(test_table_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
