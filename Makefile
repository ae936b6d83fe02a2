# lpm is one static binary: cgo for SQLite, linked statically so that a
# broken libc on the target cannot stop it.
GO      ?= go
TAGS    := osusergo netgo sqlite_omit_load_extension
# lpm --version: the commit described by git, else what Go recorded.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := -s -w -extldflags "-static" $(if $(VERSION),-X main.version=$(VERSION))

.PHONY: lpm test test-slow demo clean

lpm:
	CGO_ENABLED=1 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o lpm ./cmd/lpm

test:
	$(GO) vet ./...
	$(GO) test ./...

# The slow suites: long crash runs and the QEMU boot test.
test-slow:
	LPM_SLOW=1 $(GO) test -timeout 60m ./...

demo: lpm
	sh scripts/demo.sh

clean:
	rm -rf lpm demo/out
