#!/bin/sh
# Runs every test: vet, the slow suites, then the unit and end-to-end suites
# (real gcc builds, real archives and SQLite files under temp roots).
#
# What it leaves on the host: the slow suites' caches (a debootstrapped
# Debian root, the LFS tarballs from Debian, the LFS and boot tests' archives; about 3 GB),
# all under LPM_TEST_CACHE (default /var/tmp/lpm-test-cache), which can be
# removed at any time (the next run is then cold, so slower); and,
# when the host's apt sources had no deb-src entry, the one boot/setup.sh
# adds (/etc/apt/sources.list.d/lpm-boot-src.*), which it says when it does.
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh
export LPM_TEST_CACHE="${LPM_TEST_CACHE:-/var/tmp/lpm-test-cache}"
mkdir -p "$LPM_TEST_CACHE"
# Caches of older versions of this script, moved under the one directory.
for old in /var/tmp/lpm-boot-cache:boot /var/tmp/lpm-test-debootstrap:debootstrap; do
	if [ -d "${old%%:*}" ] && [ ! -e "$LPM_TEST_CACHE/${old#*:}" ]; then
		mv "${old%%:*}" "$LPM_TEST_CACHE/${old#*:}" 2>/dev/null || true
	fi
done
# Debian roots of older versions, before the slow suites shared one.
rm -rf "$LPM_TEST_CACHE/debootstrap/bookworm-build-essential" "$LPM_TEST_CACHE"/lfs/root-bookworm-*
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed: $unformatted" >&2
	exit 1
fi
go vet ./...
# The slow suites, then everything else; the last lines CI reads are the
# whole suite's. Slow: 1,000 crash trials and chroot builds in a
# debootstrapped Debian root (cmd/lpm); the BusyBox boot test (boot); a few
# LFS chapter-8 ports built by lpm inside that root, and the LFS boot test:
# an LFS 12.3 system built from the shipped ports, booted five times in
# QEMU, with lpm at work on it (lfsproof). Cold on 2 quiet cores: about 29
# minutes without the BusyBox boot test (measured), 8.5 more with it.
# -v -p 1 streams each suite's progress lines as they come (go test holds
# a package's output until it ends otherwise) and runs the suites one after
# the other, as 2 cores want.
# -count=1: the boot and LFS suites build lpm from source themselves, which
# go test's result cache does not see, so a cached pass could be of an
# older lpm (their own caches of built archives keep a warm run quick).
LPM_SLOW=1 LPM_LFS_BOOT=1 go test -v -p 1 -count=1 -timeout 90m -run 'Slow' ./cmd/lpm ./boot ./lfsproof
go test -timeout 20m ./...
