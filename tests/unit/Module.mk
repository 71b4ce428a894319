# tests/unit - the unit tests of lib/store share one fixture file
STORE_FIXTURE := $(BUILD)/obj/tests/unit/store_fixture.o
test_store_OBJS := $(STORE_FIXTURE)
test_store_imap_OBJS := $(STORE_FIXTURE)
test_store_quota_OBJS := $(STORE_FIXTURE)
test_store_index_OBJS := $(STORE_FIXTURE)
