# sendmail - the sendmail command; installed also as mailq and newaliases
PROGS += sendmail
sendmail_SRCS := tools/sendmail/sendmail.c tools/sendmail/sm_opts.c \
	tools/sendmail/sm_addr.c tools/sendmail/sm_message.c \
	tools/sendmail/sm_drop.c tools/sendmail/sm_exec.c
# the unit test of the address scanner and the command line links their objects
test_sendmail_addr_OBJS := $(BUILD)/obj/tools/sendmail/sm_addr.o \
	$(BUILD)/obj/tools/sendmail/sm_opts.o

# mailq and newaliases are sendmail under other names (argv[0]); the
# first rule here names "all" so that the default goal stays "all".
all: $(BUILD)/bin/mailq $(BUILD)/bin/newaliases
$(BUILD)/bin/mailq $(BUILD)/bin/newaliases: $(BUILD)/bin/sendmail
	@ln -sf sendmail $@
