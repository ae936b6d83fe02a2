package ports

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/lfs-lpm/lpm/resolver"
)

func TestScratchSolve(t *testing.T) {
	tree := os.Getenv("TREE")
	if tree == "" {
		t.Skip()
	}
	for i := 0; i < 3; i++ {
		start := time.Now()
		tr, err := Open(os.Getenv("CACHE"), tree)
		if err != nil {
			t.Fatal(err)
		}
		sol, err := resolver.Solve(tr, []resolver.Request{{Name: os.Getenv("TARGET")}}, resolver.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(len(sol.Selected), tr.parsed, time.Since(start))
		tr.Close()
	}
}
