#!/bin/sh
# Runs every test: vet, the slow suites, then the unit and end-to-end suites
# (real gcc builds, real archives and SQLite files under temp roots).
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed: $unformatted" >&2
	exit 1
fi
go vet ./...
# The slow suites (1,000 crash trials, chroot builds in a debootstrapped
# root, the QEMU boot test), then everything else; the last lines CI reads
# are the whole suite's.
LPM_SLOW=1 go test -timeout 60m -run 'Slow' ./cmd/lpm ./boot
go test -timeout 20m ./...
