package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkCreate2000(b *testing.B) {
	staging := filepath.Join(b.TempDir(), "staging")
	content := make([]byte, 4096)
	for i := range content {
		content[i] = byte("lpm package payload\n"[i%20])
	}
	for d := 0; d < 20; d++ {
		for f := 0; f < 100; f++ {
			p := filepath.Join(staging, fmt.Sprintf("usr/share/bench/d%02d/f%03d", d, f))
			// Vary each file so the compressor cannot collapse them all.
			mustWrite(b, p, fmt.Sprintf("%d/%d\n", d, f)+string(content[:1024+f*30]), 0o644)
		}
	}
	out := filepath.Join(b.TempDir(), "bench.lpm")
	m := Manifest{Name: "bench", Version: "1", Release: 1}
	b.ResetTimer()
	for b.Loop() {
		got, err := Create(out, staging, m)
		if err != nil {
			b.Fatal(err)
		}
		if len(got.Entries) != 2000+20+3 {
			b.Fatalf("%d entries, want 2023", len(got.Entries))
		}
	}
	b.StopTimer()
	if info, err := os.Stat(out); err == nil {
		b.ReportMetric(float64(info.Size()), "archive-bytes")
	}
}
