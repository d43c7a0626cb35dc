#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# linked-libraries.sh PROGRAM...: no installed program links libpq, libcurl or OpenSSL. helpers/lib opens
# libpq and libcurl where they are used (dlopen-util.c); linked, they and their TLS, Kerberos and LDAP
# libraries would be mapped by every program at every start (docs/architecture.md, "What the downtime is
# made of"). The libraries must still open: each is opened here by its soname, as the programs do.
# The generator links no libsystemd either (nor its compression and crypto libraries): it runs at every
# boot and daemon-reload, and its own start is most of its time.
set -euo pipefail
failed=0
for p in "$@"; do
        needed=$(readelf -d "$p" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        bad=$(grep -E '^lib(pq|curl|ssl|crypto|gssapi_krb5|ldap)[.-]' <<<"$needed" || true)
        if [ -n "$bad" ]; then
                echo "FAIL: $p links $(tr '\n' ' ' <<<"$bad")" >&2
                failed=1
        fi
        case $p in
        */codebolt-upgrade-generator)
                generator=$p
                if grep -qE '^libsystemd[.]' <<<"$needed"; then
                        echo "FAIL: the generator $p links libsystemd" >&2
                        failed=1
                fi
                ;;
        esac
done
[ -n "${generator:-}" ] || { echo "FAIL: the generator is not among the programs given" >&2; failed=1; }
[ $# -gt 10 ] || { echo "FAIL: only $# programs given" >&2; exit 1; }
for soname in libpq.so.5 libcurl.so.4; do
        python3 -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1])' "$soname" ||
                { echo "FAIL: $soname does not open" >&2; failed=1; }
done
[ "$failed" = 0 ] && echo "$# programs, none links libpq, libcurl or OpenSSL; the generator no libsystemd"
exit "$failed"
