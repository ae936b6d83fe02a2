#!/bin/sh
# Runs every test: vet, the unit and end-to-end suites (real gcc builds, real
# archives and SQLite files under temp roots), then the slow suites.
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed: $unformatted" >&2
	exit 1
fi
go vet ./...
go test -timeout 20m ./...
LPM_SLOW=1 go test -timeout 60m -run 'Slow' ./...
