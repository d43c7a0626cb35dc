#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pack-standin.sh OUTDIR STAMP: (re)pack every stand-in version into OUTDIR for the build, then touch STAMP
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rm -rf "$1"
bash "$here/../../fixtures/standin/pack.sh" "$1" >/dev/null
touch "$2"
