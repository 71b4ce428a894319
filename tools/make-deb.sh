#!/bin/bash
# make-deb.sh - make deb: build the Debian package from this tree with
# dpkg-buildpackage (build tools installed if missing), check it with
# lintian, and leave the .deb in build/deb/.
set -euo pipefail
cd "$(dirname "$0")/.."
need=""
for p in debhelper lintian fakeroot dpkg-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    echo "make-deb: installing:$need"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >/dev/null
fi
dpkg-buildpackage -us -uc -b --no-sign
mkdir -p build/deb
mv ../mailroom_*.deb ../mailroom-dbgsym_*.deb ../mailroom_*.changes ../mailroom_*.buildinfo build/deb/
echo "make-deb: lintian:"
lintian --fail-on error,warning build/deb/mailroom_*.changes
echo "make-deb: build/deb/$(cd build/deb && ls mailroom_*.deb)"
