#!/bin/bash
# slowloris.sh - greeting time while every smtpd slot is held by slow
# clients (see slowloris.py); $1 is the build folder.
set -e
exec /usr/bin/python3 "$(dirname "$0")/slowloris.py" "${1:-build}" drip silent noop
