#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# completion.sh COMPLETION FIXTURES
#
# The bash completion of codebolt-upgrade, called as bash calls it (COMP_WORDS, COMP_CWORD), against a
# throwaway CODEBOLT_UPGRADE_ROOT that holds FIXTURES/release-metadata.json as the cached release
# metadata of the default deployment: the commands, the options, the deployments, and the versions for
# the commands that take one, with jq and without it. Then once more with bash-completion's own
# helpers loaded, as in an interactive shell.
set -u
export LC_ALL=C
completion=$1 fixtures=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
failed=0

mkdir -p "$root/var/lib/codebolt-upgrade/default" "$root/var/lib/codebolt-upgrade/eu" \
        "$root/etc/codebolt-upgrade/deployments"
cp "$fixtures/release-metadata.json" "$root/var/lib/codebolt-upgrade/default/"
printf '{"versions": {"3.1.4": {"version": "3.1.4"}}}\n' >"$root/var/lib/codebolt-upgrade/eu/release-metadata.json"
touch "$root/etc/codebolt-upgrade/deployments/eu.conf" "$root/etc/codebolt-upgrade/deployments/staging.conf"
export CODEBOLT_UPGRADE_ROOT=$root
unset CODEBOLT_DEPLOYMENT

# shellcheck source=/dev/null
source "$completion" || {
        echo "FAIL: $completion cannot be sourced"
        exit 1
}

# expect 'WANT' WORD… : complete the last word of the line (the empty word after a trailing space)
# and compare COMPREPLY, sorted and joined by spaces, with WANT
expect() {
        local want=$1 got
        shift
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _codebolt_upgrade codebolt-upgrade "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
        got=${got% }
        if [ "$got" != "$want" ]; then
                echo "FAIL${label:+ ($label)}: '$*': got '$got', want '$want'"
                failed=1
        fi
}

checks() {
        expect 'clean clear cluster history hold pin plan rollback satisfies server-may-start status unhold upgrade' \
                codebolt-upgrade ''
        expect 'clean clear cluster' codebolt-upgrade cl
        expect 'abort join leave pause resume start status unlock' codebolt-upgrade cluster ''
        expect '1.4.0 1.4.2 1.5.0 2.0.0-rc.1' codebolt-upgrade cluster start ''
        expect '' codebolt-upgrade cluster start 1.5.0 ''
        expect '--auto-revert --coordinated --deployment' codebolt-upgrade cluster start 1.5.0 --
        expect '--deployment --follow --json' codebolt-upgrade cluster status --
        expect 'pin plan' codebolt-upgrade --deployment eu p
        expect '--deployment --help --json --version' codebolt-upgrade --
        expect '1.4.0 1.4.2 1.5.0 2.0.0-rc.1' codebolt-upgrade plan ''
        expect '1.4.0 1.4.2' codebolt-upgrade rollback 1.4
        expect '1.5.0' codebolt-upgrade clear 1.5
        expect '1.4.0 1.4.2 1.5.0 2.0.0-rc.1' codebolt-upgrade satisfies ''
        expect '' codebolt-upgrade satisfies 1.5.0 ''
        expect '' codebolt-upgrade plan 1.5.0 ''
        expect '' codebolt-upgrade status ''
        expect '--deployment --follow --json' codebolt-upgrade status --
        expect '1.5.0' codebolt-upgrade upgrade 1.5
        expect '--deployment --json --no-follow --yes' codebolt-upgrade upgrade 1.5.0 --
        expect '--deployment --discard-since' codebolt-upgrade rollback 1.5.0 --
        expect '--dry-run' codebolt-upgrade clean --dr
        expect '--deployment --json' codebolt-upgrade plan --
        # the deployment's own metadata, however --deployment is written
        expect '3.1.4' codebolt-upgrade --deployment eu pin ''
        expect '3.1.4' codebolt-upgrade --deployment=eu pin ''
        expect '3.1.4' codebolt-upgrade -d eu plan ''
        expect '3.1.4' codebolt-upgrade --deployment = eu plan ''
        expect '3.1.4' codebolt-upgrade plan --deployment eu ''
        CODEBOLT_DEPLOYMENT=eu expect '3.1.4' codebolt-upgrade plan ''
        expect '' codebolt-upgrade --deployment staging plan ''
        # the deployments
        expect 'default eu staging' codebolt-upgrade --deployment ''
        expect 'eu' codebolt-upgrade -d e
        expect '--deployment=staging' codebolt-upgrade --deployment=st
        expect 'default eu staging' codebolt-upgrade --deployment = ''
}

label='' checks

# without jq: the plain fallback finds the same versions
nojq=$root/nojq
mkdir -p "$nojq"
for tool in grep sed sort tr; do
        ln -s "$(command -v "$tool")" "$nojq/$tool"
done
PATH=$nojq label='without jq' checks

# a root without metadata offers no version, and says nothing
CODEBOLT_UPGRADE_ROOT=$root/empty label='no metadata' expect '' codebolt-upgrade plan ''

# with bash-completion's helpers, as an interactive shell has them
for main in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
        if [ -r "$main" ]; then
                # shellcheck source=/dev/null
                source "$main" >/dev/null 2>&1
                # shellcheck source=/dev/null
                source "$completion"
                label='with bash-completion' checks
                [ "$(complete -p codebolt-upgrade)" = 'complete -F _codebolt_upgrade codebolt-upgrade' ] || {
                        echo "FAIL: not registered: $(complete -p codebolt-upgrade 2>&1)"
                        failed=1
                }
                break
        fi
done

[ "$failed" = 0 ] && echo "completion: every case as expected"
exit "$failed"
