# Mailroom - top-level build. GNU make, no autotools.
#
#   make            build every program into build/bin
#   make asan       the same with ASan+UBSan into build-asan/, then unit tests
#   make test       deps + build + unit tests + integration tests
#   make run        deps + build + a self-contained instance under ./run
#   make bench      benchmarks (bench/)
#   make deps       install missing Debian packages
#   make install    PREFIX=/usr DESTDIR=...
#
# Each program folder has a Module.mk that adds to PROGS and says which
# sources make each program; everything under lib/ goes into one static
# library that every program links.

BUILD   ?= build
CC      ?= gcc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wshadow -Wformat=2 -Wno-format-nonliteral
DEFS     = -D_GNU_SOURCE -DDEF_CONFIG_DIR='"$(CONFDIR)"'
ALL_CFLAGS = -std=gnu11 $(WARN) $(DEFS) -Ilib $(CFLAGS) $(SANITIZE)
LDLIBS  := -lssl -lcrypto -ldb -lcdb -lpcre2-8 -lsasl2 -lresolv -lz -lm
PREFIX  ?= /usr
CONFDIR ?= /etc/mailroom

LIB_SRCS := $(sort $(wildcard lib/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIBMR    := $(BUILD)/libmailroom.a

PROGS :=
.DEFAULT_GOAL := all
include $(sort $(wildcard */Module.mk */*/Module.mk))

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_EXTRA := tests/unit/unit_helpers.c

PROG_BINS := $(PROGS:%=$(BUILD)/bin/%)

.PHONY: check-format deb test-install uninstall all asan test unit integration run deps clean install bench check-banned check-layers check-skips fuzz fuzz-smoke
all: $(PROG_BINS) $(UNIT_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo '  CC    $<'
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBMR): $(LIB_OBJS)
	@rm -f $@
	@echo '  AR    $@'
	@ar rcs $@ $^

# One rule per program: build/bin/NAME from $(NAME_SRCS).
define PROG_RULE
$(BUILD)/bin/$(1): $$($(1)_SRCS:%.c=$(BUILD)/obj/%.o) $(LIBMR)
	@mkdir -p $$(dir $$@)
	@echo '  LINK  $$@'
	@$$(CC) $(ALL_CFLAGS) -o $$@ $$^ $(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call PROG_RULE,$(p))))

# A unit test links the library; one that tests code of a program folder
# also links that code's objects, listed as test_NAME_OBJS in its Module.mk.
.SECONDEXPANSION:
$(BUILD)/tests/%: tests/unit/%.c $(UNIT_EXTRA) $$($$*_OBJS) $(LIBMR)
	@mkdir -p $(dir $@)
	@echo '  LINK  $@'
	@$(CC) $(ALL_CFLAGS) -MMD -MP -MF $@.d -Itests/unit -o $@ $< $(UNIT_EXTRA) $($*_OBJS) $(LIBMR) $(LDLIBS) -lcmocka

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)

unit: all
	@bash tests/run-unit.sh $(BUILD)

integration: all
	@bash tests/run-integration.sh $(BUILD)

test: deps check-banned check-layers check-skips check-format
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-smoke
	$(MAKE) integration

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SANITIZE='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined' all
	ASAN_OPTIONS=detect_leaks=1 bash tests/run-unit.sh build-asan

check-banned:
	@bash tests/check-banned.sh

check-layers:
	@bash tests/check-layers.sh

check-skips:
	@bash tests/check-skips.sh

check-format:
	@bash tests/check-format.sh

# every fuzzer for a few seconds (make test); make fuzz for the long run
FUZZ_SECONDS ?= 3
fuzz-smoke:
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS)

deps:
	@bash tools/deps.sh

run: deps
	$(MAKE) all
	@bash tools/make-run.sh $(BUILD)

bench: deps
	$(MAKE) all
	@bash bench/run-all.sh $(BUILD)

fuzz:
	@bash tests/fuzz/run.sh

# Manual pages, made from docs/ by every build so they cannot drift: a page
# whose first heading names it ("# smtpd(8) ...") becomes that page (and
# links for the other names there); the others are named here.
MAN_NAMED := $(shell grep -l '^\# [a-z][a-z0-9.-]*([1-8])' docs/*.md)
MAN_OTHER := $(BUILD)/doc/mailroom.conf.md:mailroom.conf.5 \
	docs/queue.md:cleanup.8,pickup.8 docs/tables.md:mailroom-map.1,tabled.8
MAN_STAMP := $(BUILD)/man/.made
PARAM_REF := $(BUILD)/doc/parameters.md

all: $(MAN_STAMP)

# The parameter reference, from the typed tables; mailroom.conf(5) is the
# configuration page followed by it.
$(PARAM_REF): $(wildcard lib/global/params_*.c) $(wildcard docs/*.md) tools/paramref.py
	@mkdir -p $(dir $@)
	@echo '  REF   $@'
	@/usr/bin/python3 tools/paramref.py $@ $(wildcard lib/global/params_*.c) -- $(wildcard docs/*.md)
	@cat docs/configuration.md $@ > $(BUILD)/doc/mailroom.conf.md

$(MAN_STAMP): $(wildcard docs/*.md) tools/md2man.py $(PARAM_REF)
	@mkdir -p $(dir $@)
	@echo '  MAN   $(BUILD)/man'
	@for doc in $(MAN_NAMED); do /usr/bin/python3 tools/md2man.py $$doc $(BUILD)/man || exit 1; done
	@for spec in $(MAN_OTHER); do /usr/bin/python3 tools/md2man.py $${spec%%:*} $(BUILD)/man \
		$$(echo $${spec#*:} | tr , ' ') || exit 1; done
	@touch $@

install: all
	@bash tools/install.sh $(BUILD) "$(DESTDIR)" "$(PREFIX)" "$(CONFDIR)"

uninstall:
	@bash tools/uninstall.sh "$(DESTDIR)" "$(PREFIX)"

# a Debian package from the tree (debian/), checked by lintian; the .deb
# goes to build/deb/
deb:
	@bash tools/make-deb.sh

# root, on a scratch machine: install over Debian's postfix and back
test-install: all
	@bash tests/install/test-install.sh
	@bash tests/install/test-deb.sh

clean:
	rm -rf build build-asan
