package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shippedRoot is a fresh root whose config names no ports trees.
func shippedRoot(t *testing.T) *testRoot {
	r := newRoot(t)
	r.ports = nil
	return r
}

func TestFreshRootSearchesTheShippedTree(t *testing.T) {
	r := shippedRoot(t)
	out := r.ok("search", "gcc")
	if !strings.Contains(out, "gcc 14.2.0") {
		t.Fatalf("lpm search gcc on a root with no ports configured:\n%s\nwant the shipped gcc 14.2.0", out)
	}
	var got []searchResult
	if err := json.Unmarshal([]byte(r.ok("--json", "search", "glibc")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].Name != "glibc" || got[0].Version != "2.41" {
		t.Errorf("lpm search glibc = %+v, want the shipped glibc 2.41", got)
	}
	matches, _ := filepath.Glob(r.path("var/cache/lpm/ports/lfs-*/gcc/port.toml"))
	if len(matches) != 1 {
		t.Errorf("the shipped tree was not written to var/cache/lpm/ports (found %v)", matches)
	}
}

func TestLocalPortsTreeHidesTheShippedPort(t *testing.T) {
	r := shippedRoot(t)
	local := r.path("usr/ports/m4")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	port := "name = \"m4\"\nversion = \"1.4.20\"\ndescription = \"my own m4\"\n[build]\nstyle = \"autotools\"\n"
	if err := os.WriteFile(filepath.Join(local, "port.toml"), []byte(port), 0o644); err != nil {
		t.Fatal(err)
	}
	out := r.ok("search", "m4")
	if !strings.Contains(out, "m4 1.4.20") || strings.Contains(out, "1.4.19") {
		t.Errorf("with ROOT/usr/ports/m4 1.4.20, lpm search m4 says:\n%s\nwant only the local 1.4.20", out)
	}
	if out := r.ok("search", "bison"); !strings.Contains(out, "bison 3.8.2") {
		t.Errorf("the shipped ports under a local tree are gone:\n%s", out)
	}
}

func TestConfiguredPortsLeaveTheShippedTreeOut(t *testing.T) {
	r := newRoot(t) // --ports demo/ports
	if _, _, code := r.lpm("search", "gcc"); code == 0 {
		t.Error("lpm --ports demo/ports search gcc found gcc: the shipped tree should not be layered under trees the user named")
	}
	if _, err := os.Stat(r.path("var/cache/lpm/ports")); err == nil {
		t.Error("the shipped tree was written although the user named the trees")
	}
}

func TestNamedTreesCanKeepTheShippedTree(t *testing.T) {
	r := newRoot(t) // --ports demo/ports
	r.ports = append(r.ports, "shipped")
	out := r.ok("search", "e")
	if !strings.Contains(out, "hello 1.0.0") || !strings.Contains(out, "gcc 14.2.0") {
		t.Errorf("--ports demo/ports --ports shipped: lpm search e says\n%s\nwant the demo's hello and the shipped gcc", out)
	}
}
