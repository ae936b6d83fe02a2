#!/bin/sh
# The lpm demo: builds the static lpm, then builds real ports (a C library,
# a build-time tool, a program linking the library) from the tarballs in
# demo/distfiles and installs them into a scratch root, demo/out/root. It
# shows the queries, an upgrade that keeps an edited config file, verify
# catching a changed file, and removals. No internet needed.
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh
start=$(date +%s.%N)
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "lpm $*"; ./lpm "$@"; }

say "make lpm"
make -s lpm
file lpm 2>/dev/null | grep -q 'statically linked' && echo "lpm is statically linked"

out="$PWD/demo/out"
rm -rf "$out"
root="$out/root"
# An LFS-style root: lib is a symlink to usr/lib.
mkdir -p "$root/etc/lpm" "$root/usr/lib" "$root/usr/bin"
ln -s usr/lib "$root/lib"
cat > "$root/etc/lpm/lpm.toml" <<CONF
# Sources come from the project's own distfiles, through the normal fetch path.
mirrors = ["file://$PWD/demo/distfiles"]
[build]
jobs = 2
CONF
export LPM_ROOT="$root" LPM_PORTS="$PWD/demo/ports"

run lint
run search greet
run install --dry-run hello libgreet@1.0.0
run install --yes hello libgreet@1.0.0
say "LD_LIBRARY_PATH=$root/usr/lib $root/usr/bin/hello"
LD_LIBRARY_PATH="$root/usr/lib" "$root/usr/bin/hello"
run list
run owns /usr/bin/hello /lib/libgreet.so.1 /etc/greet.conf
run files libgreet
run info hello
run verify

say "echo 'greeting = Howdy' > $root/etc/greet.conf    # the user edits a config file"
echo 'greeting = Howdy' > "$root/etc/greet.conf"
run upgrade --dry-run
run upgrade --yes
say "cat $root/etc/greet.conf $root/etc/greet.conf.lpmnew"
cat "$root/etc/greet.conf" "$root/etc/greet.conf.lpmnew"
say "LD_LIBRARY_PATH=$root/usr/lib $root/usr/bin/hello"
LD_LIBRARY_PATH="$root/usr/lib" "$root/usr/bin/hello"
run verify libgreet

say "echo tampered >> $root/usr/bin/hello    # something changes an installed file"
echo tampered >> "$root/usr/bin/hello"
run verify hello || echo "(verify exited $? as it should)"

run remove --yes libgreet || echo "(remove exited $? as it should: hello needs libgreet)"
say "echo n | lpm remove hello    # without --yes, lpm asks; a no is heard"
echo n | ./lpm remove hello || echo "(remove exited $? as it should: nothing was changed)"
run --root "$out/rot" list || echo "(lpm exited $? as it should: a mistyped root is refused)"
run remove --yes hello
run remove --yes libgreet mkbanner
run list || true
say "find $root -mindepth 1 | sort    # what is left: lpm's own state, the user's config, and what was there before"
find "$root" -mindepth 1 -not -path '*/var/*' | sort
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "\ndemo finished in %.1f s\n", b - a }'
