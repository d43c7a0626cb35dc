/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* message-ids.h: the MESSAGE_ID= of each event in catalog/codebolt-upgrade.catalog */
#pragma once

#define MESSAGE_UPGRADE_STARTED "3f870648631541ad82534571125ff8b4"
#define MESSAGE_PHASE_COMPLETED "3b979d13a62a452abf0531a81c3d28ad"
#define MESSAGE_UPGRADE_SUCCEEDED "0d6ec923e45a41ee9f5ca0412116bac1"
#define MESSAGE_UPGRADE_FAILED "a0f91cd2b79c4447a4bd5a7cee7c0117"
#define MESSAGE_ROLLED_BACK "af5e4b8bf56340b3b081a2509bfa0bc6"
#define MESSAGE_RESTORED "f7d38042c8154b6a898469dff17b1c16"
#define MESSAGE_HELD "1dc58e336a3e4a299b0135fd234cd073"
