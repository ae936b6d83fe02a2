package ports

import (
	"fmt"
	"os"
	"testing"
	"time"
)

func TestScratchNames(t *testing.T) {
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
		t1 := time.Since(start)
		names := tr.Names()
		t2 := time.Since(start)
		for _, name := range names {
			tr.Summary(name)
		}
		fmt.Println(len(names), t1, t2, time.Since(start))
		tr.Close()
	}
}
