#!/bin/bash
# check-banned.sh - the tree must not call the unbounded C string functions.
cd "$(dirname "$0")/.."
hits=$(grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|gets|strncpy)\s*\(' \
       --include='*.c' --include='*.h' lib master smtpd cleanup qmgr local smtp \
       pop3d imapd sieved filterd tabled tools tests bench 2>/dev/null \
       | grep -vE '\b(snprintf|vsnprintf|fgets|str_appendf)\s*\(' | grep -vE '^\S+:\s*\*|/\*.*\b(strcpy|sprintf)' )
if [ -n "$hits" ]; then
    echo "banned function calls found:"; echo "$hits"; exit 1
fi
echo "check-banned: no banned calls"
