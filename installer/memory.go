package installer

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// What a transaction adds to what it holds live, measured on an install
// of 20,000 files: the staging walk's zstd window (its archive's: lpm
// writes 4 MiB windows, older archives have 8) and, besides it, its
// buffers with room for the garbage between collections; per manifest
// entry, once the archives are open, the plan and its ops, and once
// planned, the commit's records.
// With 8 MiB besides a 4 MiB window an install of L peaked at 46 MiB and
// collected 31 times (12 MiB besides: 48.6 MiB, 20 times); an archive of
// 8 MiB windows gets the 16 MiB every archive had before (12 in all made
// it collect 140 times, for 0.8 s more CPU). The plan and its ops held
// 450 bytes an entry, and the commit copied a 200-byte record of every
// file; now the plan keeps where each entry lands (about 70 bytes, with
// the ops 200) and the records are made one at a time as they are
// written. The shares below stayed, as room: L holds 11 MiB live while
// it stages (16 before), peaks at 42-45 MiB (48-50 before) and collects
// 17 times (30 before).
const (
	walkMemory     = 8 << 20
	planPerEntry   = 512
	commitPerEntry = 256
	// maxLimitedPackages is the most packages a transaction may hold and
	// still get the limit: a big package with a few of its dependencies.
	maxLimitedPackages = 8
	// minLimitedEntries is the fewest entries a transaction must install
	// to get the limit. Below it the default collector peaks within a
	// few MiB of the limit anyway (a package of 600 files: 27.5 MiB
	// against 26), while the limit (then 16 MiB for the walk, which an
	// 8 MiB zstd window nearly filled) kept the collector busy: the 85
	// installs of the LFS shape, nearly all of fewer files, took twice
	// the CPU under it.
	minLimitedEntries = 1000
)

// memoryLimit is a soft limit on the Go heap for one transaction. Go's
// collector lets the heap grow to twice what is live before it collects
// (GOGC=100): an install of 20,000 files held 24 MiB live while it staged
// and peaked at 70 MiB resident. With a limit of what is live plus what
// the transaction will add, it collects sooner and returns freed pages to
// the system: 48-53 MB, for about 20 more collections of a few ms each.
// The limit follows what is live, so a bigger transaction gets a bigger
// one and never makes the collector run without pause (which it does, at
// up to half the CPU, when what is live exceeds the limit). GOMEMLIMIT,
// when set, is the user's choice and stays.
type memoryLimit struct {
	old int64
	set bool
}

// limit sets the limit to what is live now plus extra bytes.
func (m *memoryLimit) limit(extra int64) {
	if _, user := os.LookupEnv("GOMEMLIMIT"); user {
		return
	}
	runtime.GC() // what is live now, not what the last collection saw
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	limit := int64(live[0].Value.Uint64()) + extra
	old := debug.SetMemoryLimit(limit)
	if !m.set {
		m.old, m.set = old, true
	}
}

// limitMemory limits the heap of a transaction that only installs new
// packages. An upgrade also holds the old version's file list and reads
// the disk to compare: under the same limit, an upgrade of L collected so
// often that it took 0.5 s more CPU (1.3-1.5 s against 0.8-0.9 s), so it
// keeps the collector's default. So does a transaction of many packages:
// 300 small archives installed in one command took 1.6-1.8 times as long
// under the limit (their Readers, decoders and buffers, one set each, kept
// the collector running), and its peak is not one big package's.
func (t *tx) limitMemory(perEntry int64) {
	if len(t.changes) > maxLimitedPackages || t.entryCount() < minLimitedEntries {
		return
	}
	for _, pc := range t.changes {
		if pc.old != nil || pc.manifest == nil {
			return
		}
	}
	var window int64 // stage walks one archive at a time
	for _, pc := range t.changes {
		window = max(window, pc.reader.Window())
	}
	t.memory.limit(walkMemory + window + int64(t.entryCount())*perEntry)
}

// restore puts back the limit there was before the transaction.
func (m *memoryLimit) restore() {
	if m.set {
		debug.SetMemoryLimit(m.old)
	}
}
