#!/bin/sh
# Prepares the boot test (boot_test.go runs it first; it also runs on its
# own, as root): the Debian packages the builds and QEMU need, Debian's
# sources of busybox and GRUB, and a local mirror holding the three source
# tarballs with their sha256 in sources.env, which the test's ports fetch
# from through lpm's normal fetch path.
#
# Usage: sh boot/setup.sh [CACHE]     (default /var/tmp/lpm-test-cache/boot)
#
# On a machine whose apt sources have no deb-src entry it adds one, as
# /etc/apt/sources.list.d/lpm-boot-src.sources (or .list), and leaves it
# there so that later runs need no apt work; remove it when done.
#
# A warm machine does no apt work at all. Debian point releases change the
# tarballs, which is why the sums are computed here and not written down.
set -eu
cache=${1:-${LPM_TEST_CACHE:-/var/tmp/lpm-test-cache}/boot}
export DEBIAN_FRONTEND=noninteractive
export PATH="$PATH:/usr/sbin:/sbin"
updated=0
update() {
	[ $updated = 1 ] || { apt-get update -qq; updated=1; }
}

# 1. Host tools: QEMU, e2fsprogs, fdisk, and what the kernel, busybox and
#    GRUB builds use (objtool needs libelf; static busybox needs libc.a).
need=""
for t in qemu-system-x86_64:qemu-system-x86 mke2fs:e2fsprogs debugfs:e2fsprogs sfdisk:fdisk \
	gcc:gcc make:make bc:bc flex:flex bison:bison perl:perl xz:xz-utils bzip2:bzip2 \
	zstd:zstd patch:patch strip:binutils; do
	command -v "${t%%:*}" >/dev/null 2>&1 || need="$need ${t#*:}"
done
[ -e /usr/include/libelf.h ] || need="$need libelf-dev"
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need="$need libc6-dev"
[ -e /usr/src/linux-source-6.1.tar.xz ] || need="$need linux-source-6.1"
if [ -n "$need" ]; then
	echo "setup: installing$need"
	update
	apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# 2. Source packages. A fresh machine has only binary (deb) sources: add a
#    deb-src entry with the same URIs and suites as each Debian one.
has_src() {
	grep -Eqs '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}
add_src() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		# deb822: copy every stanza of Types deb with a Debian URI, as deb-src.
		awk 'BEGIN { RS = ""; ORS = "\n\n" }
			/(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ && /(^|\n)URIs:[^\n]*debian/ {
				n = split($0, lines, "\n"); out = ""
				for (i = 1; i <= n; i++) {
					if (lines[i] ~ /^#/) continue
					if (lines[i] ~ /^Types:/) lines[i] = "Types: deb-src"
					out = out lines[i] "\n"
				}
				printf "%s", out; printf "\n"
			}' "$f"
	done >/etc/apt/sources.list.d/lpm-boot-src.sources
	[ -s /etc/apt/sources.list.d/lpm-boot-src.sources ] || rm -f /etc/apt/sources.list.d/lpm-boot-src.sources
	# One-line format.
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -n 's/^[[:space:]]*deb\([[:space:]].*debian.*\)$/deb-src\1/p' >/etc/apt/sources.list.d/lpm-boot-src.list
	[ -s /etc/apt/sources.list.d/lpm-boot-src.list ] || rm -f /etc/apt/sources.list.d/lpm-boot-src.list
	has_src || { echo "setup: found no Debian deb entry to add deb-src for" >&2; exit 1; }
	echo "setup: added deb-src entries:"
	cat /etc/apt/sources.list.d/lpm-boot-src.* 2>/dev/null
	updated=0
}
newest() { ls "$cache/src"/$1 2>/dev/null | sort -V | tail -n 1; }
mkdir -p "$cache/src"
if [ -z "$(newest 'busybox_*.orig.tar.bz2')" ] || [ -z "$(newest 'grub2_*.orig.tar.xz')" ]; then
	has_src || add_src
	update
	# apt-get source as root warns that _apt cannot write here; harmless.
	(cd "$cache/src" && apt-get source -qq --download-only busybox grub2)
fi

# 3. The mirror: hard links (copies across filesystems), named as the ports
#    name them, and sources.env with versions and sums.
kdeb=$(dpkg-query -W -f='${Version}' linux-source-6.1)
kver=${kdeb%-*}
bb=$(newest 'busybox_*.orig.tar.bz2')
gr=$(newest 'grub2_*.orig.tar.xz')
bbver=${bb##*/busybox_}
bbver=${bbver%.orig.tar.bz2}
grver=${gr##*/grub2_}
grver=${grver%.orig.tar.xz}
mirror="$cache/mirror"
rm -rf "$mirror.new"
mkdir -p "$mirror.new"
put() { ln -f "$1" "$mirror.new/$2" 2>/dev/null || cp -f "$1" "$mirror.new/$2"; }
put /usr/src/linux-source-6.1.tar.xz "linux-source-$kver.tar.xz"
put "$bb" "${bb##*/}"
put "$gr" "${gr##*/}"
sum() { sha256sum "$mirror.new/$1" | cut -d' ' -f1; }
cat >"$mirror.new/sources.env" <<EOF
LINUX_VERSION=$kver
LINUX_TARBALL=linux-source-$kver.tar.xz
LINUX_SHA256=$(sum "linux-source-$kver.tar.xz")
BUSYBOX_VERSION=$bbver
BUSYBOX_TARBALL=${bb##*/}
BUSYBOX_SHA256=$(sum "${bb##*/}")
GRUB_VERSION=$grver
GRUB_TARBALL=${gr##*/}
GRUB_SHA256=$(sum "${gr##*/}")
EOF
rm -rf "$mirror"
mv "$mirror.new" "$mirror"
echo "setup: mirror $mirror (linux-source $kdeb, busybox $bbver, grub $grver)"
