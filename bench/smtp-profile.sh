#!/bin/bash
# smtp-profile.sh - CPU, context switches and system calls per accepted
# message, by process (smtpd, cleanup, master, ...). See bench/smtp_profile.py.
cd "$(dirname "$0")/.." || exit 1
exec /usr/bin/python3 bench/smtp_profile.py "${1:-build}"
