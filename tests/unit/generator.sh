#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# generator.sh [--update] GENERATOR UNITS_BUILD_DIR UNITDIR BINDIR LIBEXECDIR DOCDIR FIXTURES
#
# Runs the real codebolt-upgrade-generator against each fixture root in FIXTURES/<case>/ (etc/… as an
# operator has it) and compares what it writes, byte for byte, with FIXTURES/<case>/expected/ and
# what it logs with FIXTURES/<case>/log. In the expected files and the log @bindir@, @libexecdir@,
# @docdir@ and @unitdir@ stand for the build's paths, @root@ in the log for the throwaway root. Each root gets the
# built upgrade, rollback and watch templates in UNITDIR, as installed; a case whose `options` says
# `auto` also gets LIBEXECDIR/auto. Then every generated unit must pass `systemd-analyze verify
# --root` without a word (it never boots anything: it loads the units in a test manager).
#
# --update rewrites expected/ and log from what the generator does now (review the diff); only
# `ninja -C BUILD update-generator-fixtures` passes it, never the test suite.
set -euo pipefail

update=0
if [ "${1:-}" = --update ]; then
        update=1
        shift
elif [ -n "${CBU_GENERATOR_UPDATE+set}" ]; then
        # the test never rewrites what it checks: an update asked for here would pass without one
        echo "FAIL: CBU_GENERATOR_UPDATE is not read by the test; run: ninja -C BUILD update-generator-fixtures" >&2
        exit 1
fi
generator=$1 units=$2 unitdir=$3 bindir=$4 libexecdir=$5 docdir=$6 fixtures=$7
tmp=$(mktemp -d /var/tmp/cbu-generator-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
        echo "FAIL: $*" >&2
        failed=1
}

# the expected text with the build's paths, or the reverse for --update
subst() {
        sed -e "s|@bindir@|$bindir|g; s|@libexecdir@|$libexecdir|g; s|@docdir@|$docdir|g; s|@unitdir@|$unitdir|g"
}
unsubst() {
        sed -e "s|$libexecdir|@libexecdir@|g; s|$bindir|@bindir@|g; s|$docdir|@docdir@|g; s|$unitdir|@unitdir@|g"
}

# every unit the generator wrote loads cleanly: verify them in a root of their own with stub targets,
# the built template a drop-in extends (the watch timer's, with its service) or else a stub server unit,
# and a stub for every program an Exec line names
verify_units() {
        shopt -s nullglob
        local out=$1 vroot=$2 sysdir f u bin msg
        command -v systemd-analyze >/dev/null || {
                fail "$case: systemd-analyze not found: the units cannot be verified (tools/deps.sh installs systemd)"
                return 0
        }
        sysdir=$vroot/etc/systemd/system
        mkdir -p "$sysdir"
        for u in sysinit.target basic.target shutdown.target timers.target network-online.target; do
                printf '[Unit]\nDescription=stub\n' >"$sysdir/$u"
        done
        cp -a "$out/." "$sysdir/"
        for f in "$out"/*.d; do
                [ -d "$f" ] || continue
                u=$(basename "$f" .d)
                if [ -f "$units/$u" ]; then
                        cp "$units/$u" "$sysdir/"
                        case "$u" in *.timer) cp "$units/${u%.timer}.service" "$sysdir/" ;; esac
                else
                        printf '[Service]\nExecStart=%s/codebolt-upgrade status\n' "$bindir" >"$sysdir/$u"
                fi
        done
        mkdir -p "$vroot$bindir" "$vroot$libexecdir"
        printf '#!/bin/sh\n' >"$vroot$bindir/codebolt-upgrade"
        chmod +x "$vroot$bindir/codebolt-upgrade"
        while IFS= read -r bin; do
                mkdir -p "$vroot$(dirname "$bin")"
                [ -e "$vroot$bin" ] || { printf '#!/bin/sh\n' >"$vroot$bin" && chmod +x "$vroot$bin"; }
        done < <(cat "$sysdir"/*.service "$sysdir"/*.service.d/*.conf 2>/dev/null |
                sed -nE 's/^Exec[A-Za-z]*=[-@:+!]*([^ ]+).*/\1/p' | sort -u)
        for f in "$sysdir"/*.service "$sysdir"/*.timer; do
                u=$(basename "$f")
                case "$u" in *@.service | *@.timer) u=${u%@.*}@1.5.0.${u##*.} ;; esac
                # --man=no: the host's man has not got this build's pages (tests/unit/man.sh checks that
                # every Documentation=man: of the templates is one of them)
                msg=$(systemd-analyze verify --man=no --root="$vroot" "$u" 2>&1) || fail "$case: systemd-analyze verify $u failed: $msg"
                [ -z "$msg" ] || fail "$case: systemd-analyze verify $u printed: $msg"
        done
}

for dir in "$fixtures"/*/; do
        case=$(basename "$dir")
        root=$tmp/$case/root out=$tmp/$case/out want=$tmp/$case/want
        mkdir -p "$root$unitdir" "$out" "$want"
        for top in etc usr run; do
                [ -d "$dir/$top" ] && cp -a "$dir/$top" "$root/"
        done
        cp "$units/codebolt-upgrade@.service" "$units/codebolt-rollback@.service" \
                "$units/codebolt-upgrade-watch@.service" "$units/codebolt-upgrade-watch@.timer" "$root$unitdir/"
        if [ -f "$dir/options" ] && grep -qx auto "$dir/options"; then
                mkdir -p "$root$libexecdir"
                printf '#!/bin/sh\n' >"$root$libexecdir/auto"
                chmod +x "$root$libexecdir/auto"
        fi

        # systemd gives generators 90 s at boot before it kills them; a sanitizer build on a busy machine
        # finishes every case in well under 10
        rc=0
        CODEBOLT_UPGRADE_ROOT=$root CODEBOLT_UPGRADE_LOG=stderr timeout 10 "$generator" "$out" "$out" "$out" \
                2>"$tmp/$case/log" || rc=$?
        sed -i "s|$root|@root@|g" "$tmp/$case/log"
        [ "$rc" != 124 ] || fail "$case: the generator did not finish within 10 s"
        [ "$rc" = 0 ] || fail "$case: the generator exited $rc"

        if [ "$update" = 1 ]; then
                rm -rf "$dir/expected"
                cp -a "$out" "$dir/expected"
                find "$dir/expected" -type f -print0 | while IFS= read -r -d '' f; do
                        unsubst <"$f" >"$f.tmp" && mv "$f.tmp" "$f"
                done
                unsubst <"$tmp/$case/log" >"$dir/log"
                echo "updated $case"
                continue
        fi

        # expected/ with the build's paths, symlinks as they are
        cp -a "$dir/expected/." "$want/"
        find "$want" -type f -print0 | while IFS= read -r -d '' f; do
                subst <"$f" >"$f.tmp" && mv "$f.tmp" "$f"
        done
        diff -r --no-dereference "$want" "$out" >"$tmp/$case/diff" ||
                fail "$case: the output differs from expected/:"$'\n'"$(cat "$tmp/$case/diff")"
        if [ -f "$dir/log" ]; then
                subst <"$dir/log" >"$tmp/$case/want-log"
                cmp -s "$tmp/$case/want-log" "$tmp/$case/log" ||
                        fail "$case: the log differs:"$'\n'"$(diff "$tmp/$case/want-log" "$tmp/$case/log" || true)"
        elif [ -s "$tmp/$case/log" ]; then
                fail "$case: unexpected messages: $(cat "$tmp/$case/log")"
        fi

        # the rules of every file, whatever the case
        while IFS= read -r -d '' f; do
                [ "$(head -n1 "$f")" = "# Automatically generated by codebolt-upgrade-generator" ] ||
                        fail "$case: ${f#"$out"/} does not start with the generator's header"
                # a unit says where it comes from in SourcePath=; a drop-in in a comment, since its
                # SourcePath= would stand for the whole unit in `systemctl status`
                case $f in
                */*.d/*.conf)
                        grep -q '^SourcePath=' "$f" && fail "$case: the drop-in ${f#"$out"/} sets SourcePath="
                        sed -n 2p "$f" | grep -q ', from /.*\.conf\.$' ||
                                fail "$case: the drop-in ${f#"$out"/} does not say which file it comes from"
                        ;;
                *) grep -q '^SourcePath=/' "$f" || fail "$case: ${f#"$out"/} has no SourcePath=" ;;
                esac
        done < <(find "$out" -type f -print0)
        [ "$(grep -rh '^ExecCondition=' "$out" --include='*.conf' | sort | uniq -d)" = "" ] ||
                fail "$case: an ExecCondition= line appears twice"

        verify_units "$out" "$tmp/$case/vroot"
        [ "$failed" = 0 ] && echo "ok $case"
done
exit "$failed"
