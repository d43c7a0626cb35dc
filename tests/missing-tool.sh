#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# missing-tool.sh TEST TOOL: stands in for a test whose tool was not found when the build was
# configured, and fails: a test that cannot run proves nothing, so it never passes and never vanishes
echo "$1: $2 was not found when the build was configured: install it (tools/deps.sh does) and reconfigure (tools/build.sh does)" >&2
exit 1
