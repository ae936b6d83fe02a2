# lpm is one static binary: cgo for SQLite, linked statically so that a
# broken libc on the target cannot stop it.
GO      ?= go
TAGS    := osusergo netgo sqlite_omit_load_extension
# lpm --version: the commit described by git, else what Go recorded.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := -s -w -extldflags "-static" $(if $(VERSION),-X main.version=$(VERSION))

.PHONY: lpm test test-slow lfs-proof demo clean

lpm:
	CGO_ENABLED=1 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o lpm ./cmd/lpm

test:
	$(GO) vet ./...
	$(GO) test ./...

# The slow suites: long crash runs and the QEMU boot test.
test-slow:
	LPM_SLOW=1 $(GO) test -timeout 60m ./...

# Every chapter-8 port buildable here, built by lpm inside a Debian chroot
# standing in for the LFS chapter-7 system (lfsproof/); the result table is
# printed and kept in /var/tmp/lpm-test-cache/lfs/lfs-proof.txt. As root.
lfs-proof:
	LPM_SLOW=1 LPM_LFS_ALL=1 $(GO) test -v -count=1 -timeout 600m -run TestSlowLFSPortsBuildInAChroot ./lfsproof

demo: lpm
	sh scripts/demo.sh

clean:
	rm -rf lpm demo/out
