package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Kinds of tree entries.
const (
	kindDir = iota
	kindFile
	kindSymlink
)

// node is one entry of a generated package tree. A file's content is a
// function of (seed, gen): bumping gen is how an upgrade changes a file.
type node struct {
	path string // relative, slash-separated
	kind int
	mode os.FileMode
	size int64
	seed uint64
	gen  uint64
	link string // symlinks: target relative to the link's directory
}

// tree is a whole package: its entries sorted by path, parents first.
type tree struct {
	nodes []node
}

// bytesPerEntry sizes the measured trees like the issue asks: about 250
// MiB at 20,000 files, so the big case measures data as much as metadata.
const bytesPerEntry = 13 * 1024

// maxFileSize caps the long tail of the size distribution.
const maxFileSize = 16 << 20

// exts mixes text and binary files the way /usr does; binaries are the
// ones a compressor cannot shrink much.
var exts = []struct {
	dir    string
	ext    string
	binary bool
	exec   bool
}{
	{"usr/bin", "", true, true},
	{"usr/lib", ".so", true, false},
	{"usr/lib", ".a", true, false},
	{"usr/include", ".h", false, false},
	{"usr/share/doc", ".html", false, false},
	{"usr/share/man", ".1", false, false},
	{"usr/share/locale", ".mo", true, false},
	{"usr/lib/python3", ".py", false, false},
	{"usr/share/data", ".dat", true, false},
	{"usr/share/data", ".txt", false, false},
}

// genTree makes a deterministic tree of n non-directory entries (about 90%
// regular files, 10% relative symlinks to files) spread over about n/12
// directories under the usual /usr hierarchy, with file sizes drawn from a
// log-normal distribution scaled to about perEntry bytes each.
// A non-empty prefix names the package: its directories and file names
// carry it, so many generated packages install side by side.
func genTree(n int, seed uint64, prefix string, perEntry int) *tree {
	rng := rand.New(rand.NewPCG(seed, 0x6c706d))
	var t tree
	dirs := map[string]bool{}
	var addDir func(p string)
	addDir = func(p string) {
		if dirs[p] || p == "." || p == "" {
			return
		}
		addDir(filepath.Dir(p))
		dirs[p] = true
		t.nodes = append(t.nodes, node{path: p, kind: kindDir, mode: 0o755})
	}

	// Each extension class gets its base directory plus random
	// subdirectories up to three levels deep.
	perClass := make([][]string, len(exts))
	nDirs := max(n/12, len(exts))
	for i, e := range exts {
		base := e.dir
		if prefix != "" && e.dir != "usr/bin" {
			base = e.dir + "/" + prefix
		}
		perClass[i] = []string{base}
		addDir(base)
	}
	for i := range nDirs - len(exts) {
		c := i % len(exts)
		if exts[c].dir == "usr/bin" {
			c = (c + 1) % len(exts)
		}
		parent := perClass[c][rng.IntN(len(perClass[c]))]
		if strings.Count(parent, "/") >= 5 {
			parent = perClass[c][0]
		}
		d := fmt.Sprintf("%s/%s%d", parent, words[rng.IntN(len(words))], i)
		addDir(d)
		perClass[c] = append(perClass[c], d)
	}

	var raw []float64
	var files []int // indexes into t.nodes of regular files
	for i := range n {
		c := rng.IntN(len(exts))
		dir := perClass[c][rng.IntN(len(perClass[c]))]
		name := fmt.Sprintf("%s%d%s", words[rng.IntN(len(words))], i, exts[c].ext)
		if prefix != "" {
			name = prefix + "-" + name
		}
		p := dir + "/" + name
		if rng.IntN(10) == 0 && len(files) > 0 {
			// A relative symlink to an earlier file, as libfoo.so -> libfoo.so.1
			// or a man page alias would be.
			target := files[rng.IntN(len(files))]
			link := relLink(p, t.nodes[target].path)
			t.nodes = append(t.nodes, node{path: p, kind: kindSymlink, mode: 0o777, link: link})
			continue
		}
		mode := os.FileMode(0o644)
		if exts[c].exec {
			mode = 0o755
		}
		files = append(files, len(t.nodes))
		raw = append(raw, math.Exp(rng.NormFloat64()*1.6))
		t.nodes = append(t.nodes, node{path: p, kind: kindFile, mode: mode, seed: rng.Uint64(), gen: 1})
	}

	var sum float64
	for _, r := range raw {
		sum += r
	}
	scale := float64(n*perEntry) / sum
	for i, idx := range files {
		t.nodes[idx].size = min(int64(raw[i]*scale), maxFileSize)
	}
	t.sort()
	return &t
}

// relLink is the relative symlink target from the link at from to to.
func relLink(from, to string) string {
	rel, err := filepath.Rel(filepath.Dir(from), to)
	if err != nil {
		return to
	}
	return rel
}

// sort orders entries like a depth-first walk, so parents come first.
func (t *tree) sort() {
	slices.SortFunc(t.nodes, func(a, b node) int {
		return strings.Compare(strings.ReplaceAll(a.path, "/", "\x00"), strings.ReplaceAll(b.path, "/", "\x00"))
	})
}

// upgraded returns the next version of t: 10% of entries get new content,
// 5% are removed and 5% are added, the 20% change. It also returns
// the paths whose content is new (changed plus added), which the tar floor
// writes for an upgrade.
func (t *tree) upgraded(seed uint64) (*tree, []string) {
	rng := rand.New(rand.NewPCG(seed, 0x7570))
	var leaves []int
	var dirs []string
	for i, nd := range t.nodes {
		if nd.kind == kindDir {
			dirs = append(dirs, nd.path)
		} else {
			leaves = append(leaves, i)
		}
	}
	rng.Shuffle(len(leaves), func(i, j int) { leaves[i], leaves[j] = leaves[j], leaves[i] })
	nChange := len(leaves) / 10
	nRemove := len(leaves) / 20
	nAdd := len(leaves) / 20

	next := &tree{nodes: slices.Clone(t.nodes)}
	removed := map[int]bool{}
	var written []string
	changed := 0
	for _, i := range leaves {
		switch {
		case len(removed) < nRemove:
			removed[i] = true
		case changed < nChange && next.nodes[i].kind == kindFile:
			nd := &next.nodes[i]
			nd.gen++
			// Sizes drift a little, as a rebuilt file's do.
			nd.size = max(0, nd.size+int64(rng.NormFloat64()*float64(nd.size)/10))
			written = append(written, nd.path)
			changed++
		}
	}
	kept := next.nodes[:0]
	for i, nd := range next.nodes {
		if !removed[i] {
			kept = append(kept, nd)
		}
	}
	next.nodes = kept
	_, nFiles, _, total := t.counts()
	mean := float64(total) / float64(max(nFiles, 1))
	for i := range nAdd {
		d := dirs[rng.IntN(len(dirs))]
		p := fmt.Sprintf("%s/new-%s%d.dat", d, words[rng.IntN(len(words))], i)
		// exp(N(0, 1.6)) has mean e^1.28, about 3.6.
		size := min(int64(math.Exp(rng.NormFloat64()*1.6)*mean/3.6), maxFileSize)
		next.nodes = append(next.nodes, node{path: p, kind: kindFile, mode: 0o644, size: size, seed: rng.Uint64(), gen: 1})
		written = append(written, p)
	}
	next.sort()
	slices.Sort(written)
	return next, written
}

// counts reports directories, files, symlinks and file bytes.
func (t *tree) counts() (dirs, files, links int, bytes int64) {
	for _, nd := range t.nodes {
		switch nd.kind {
		case kindDir:
			dirs++
		case kindFile:
			files++
			bytes += nd.size
		case kindSymlink:
			links++
		}
	}
	return
}

// paths lists the regular files and symlinks, as seen inside a root.
func (t *tree) paths() []string {
	var out []string
	for _, nd := range t.nodes {
		if nd.kind != kindDir {
			out = append(out, "/"+nd.path)
		}
	}
	return out
}

// write materializes t under dir, which must not exist yet.
func (t *tree) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for _, nd := range t.nodes {
		full := filepath.Join(dir, filepath.FromSlash(nd.path))
		var err error
		switch nd.kind {
		case kindDir:
			if err = os.Mkdir(full, nd.mode); err == nil {
				err = os.Chmod(full, nd.mode)
			}
		case kindSymlink:
			err = os.Symlink(nd.link, full)
		case kindFile:
			err = writeContent(full, nd, buf)
		}
		if err != nil {
			return fmt.Errorf("write generated tree %s: %w", dir, err)
		}
	}
	return nil
}

// writeContent fills a file with deterministic bytes: text files get
// words (compressible about 3x, like docs and headers), binary ones get
// alternating random and repetitive blocks (about 2x, like executables).
func writeContent(full string, nd node, buf []byte) error {
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, nd.mode)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(nd.seed, nd.gen))
	binary := isBinary(nd.path)
	left := nd.size
	block := 0
	for left > 0 {
		chunk := buf[:min(int64(len(buf)), left)]
		fill(chunk, rng, binary, &block)
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return err
		}
		left -= int64(len(chunk))
	}
	if err := f.Chmod(nd.mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func isBinary(p string) bool {
	for _, e := range exts {
		if e.ext != "" && strings.HasSuffix(p, e.ext) {
			return e.binary
		}
	}
	return strings.HasPrefix(p, "usr/bin/") || strings.HasSuffix(p, ".dat")
}

func fill(b []byte, rng *rand.Rand, binary bool, block *int) {
	if !binary {
		i := 0
		for i < len(b) {
			w := words[rng.IntN(len(words))]
			i += copy(b[i:], w)
			if i < len(b) {
				b[i] = " \n"[rng.IntN(8)/7]
				i++
			}
		}
		return
	}
	for off := 0; off < len(b); off += 4096 {
		end := min(off+4096, len(b))
		if *block%2 == 0 {
			for i := off; i < end; i += 8 {
				v := rng.Uint64()
				for j := i; j < min(i+8, end); j++ {
					b[j] = byte(v)
					v >>= 8
				}
			}
		} else {
			pat := byte(rng.IntN(4))
			for i := off; i < end; i++ {
				b[i] = pat + byte(i%16)
			}
		}
		*block++
	}
}

var words = strings.Fields(`alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu
nu xi omicron pi rho sigma tau upsilon phi chi psi omega libc libm zlib xz bzip2 gcc make
config build install prefix share include header source module object symbol section table
function return struct union enum const static inline extern void char int long short
unsigned signed float double pointer buffer stream file path directory mode owner group
size time date version release package manager system kernel device driver network socket
thread process signal memory cache page block inode mount root user shell command option`)
