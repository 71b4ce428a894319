# pop3d/ - the POP3 server
PROGS += pop3d
POP3D_LIB_SRCS := pop3d/pop3d_line.c pop3d/pop3d_out.c
pop3d_SRCS := pop3d/pop3d.c pop3d/pop3d_cmd.c pop3d/pop3d_box.c pop3d/pop3d_auth.c \
	pop3d/pop3d_login.c pop3d/pop3d_sasl.c pop3d/pop3d_tls.c pop3d/pop3d_session.c \
	pop3d/pop3d_split.c pop3d/pop3d_authd.c pop3d/pop3d_proxy.c \
	$(POP3D_LIB_SRCS)

# the unit test links the parser and the converter (see Makefile)
test_pop3d_line_OBJS := $(POP3D_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
