package ports

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

var (
	// packagingWord is a trailing word that names the tarball, not the
	// release: "20240312-source".
	packagingWord = regexp.MustCompile(`(?i)[-_.](source|src|orig|final|release|stable)$`)
	// versionShape is numbers, then at most one of: a pre-release
	// (rc1, -beta.2, a3, b1), a letter (2025a) or a patch level (p2, pl3).
	versionShape = regexp.MustCompile(`^[vV]?([0-9]+(?:[._-][0-9]+)*)` +
		`(?:[._-]?(alpha|beta|pre|rc)[._-]?([0-9]*)` +
		`|(a|b)([0-9]+)` +
		`|([a-z])` +
		`|[._-]?(?:p|pl)([0-9]+))?$`)
	numberSep = regexp.MustCompile(`[._-]`)
)

// ParseVersion maps an upstream version string onto semver by the rule in
// the package documentation.
func ParseVersion(s string) (*semver.Version, error) {
	m := versionShape.FindStringSubmatch(packagingWord.ReplaceAllString(s, ""))
	if m == nil {
		return nil, fmt.Errorf("version %q does not map onto semver; add semver = \"X.Y.Z\" to the port", s)
	}
	var nums []uint64
	for _, part := range numberSep.Split(m[1], -1) {
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("version %q: %s is too large a number; add semver = \"X.Y.Z\" to the port", s, part)
		}
		nums = append(nums, n)
	}
	pre := ""
	switch {
	case m[2] != "":
		pre = m[2]
		if m[3] != "" {
			n, err := strconv.ParseUint(m[3], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("version %q: %s is too large a number; add semver = \"X.Y.Z\" to the port", s, m[3])
			}
			pre += "." + strconv.FormatUint(n, 10)
		}
	case m[4] != "":
		n, err := strconv.ParseUint(m[5], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("version %q: %s is too large a number; add semver = \"X.Y.Z\" to the port", s, m[5])
		}
		pre = map[string]string{"a": "alpha", "b": "beta"}[m[4]] + "." + strconv.FormatUint(n, 10)
	case m[6] != "":
		nums = append(nums, uint64(m[6][0]-'a'+1))
	case m[7] != "":
		n, err := strconv.ParseUint(m[7], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("version %q: %s is too large a number; add semver = \"X.Y.Z\" to the port", s, m[7])
		}
		nums = append(nums, n)
	}
	for len(nums) < 3 {
		nums = append(nums, 0)
	}
	text := fmt.Sprintf("%d.%d.%d", nums[0], nums[1], nums[2])
	if pre != "" {
		text += "-" + pre
	}
	if len(nums) > 3 {
		// Semver has three numbers: the rest is kept as build metadata,
		// which orders nothing. Lint reports two versions of one port
		// that differ only there.
		var rest []string
		for _, n := range nums[3:] {
			rest = append(rest, strconv.FormatUint(n, 10))
		}
		text += "+" + strings.Join(rest, ".")
	}
	return semver.StrictNewVersion(text)
}

// SameRelease reports whether a and b differ at most in build metadata,
// which the solver cannot order: the rule's reading of 7.1.1-42 and
// 7.1.1-43 is the same release.
func SameRelease(a, b *semver.Version) bool {
	return a.Major() == b.Major() && a.Minor() == b.Minor() && a.Patch() == b.Patch() && a.Prerelease() == b.Prerelease()
}
