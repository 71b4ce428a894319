# qmgr/ - the queue manager, and testagent, a delivery agent for the
# integration tests (make install leaves it out).
PROGS += qmgr testagent
qmgr_SRCS := qmgr/qmgr.c qmgr/qmgr_message.c qmgr/qmgr_sched.c qmgr/qmgr_deliver.c \
	qmgr/qmgr_bounce.c qmgr/qmgr_unlink.c qmgr/qmgr_flow.c
testagent_SRCS := qmgr/testagent.c
