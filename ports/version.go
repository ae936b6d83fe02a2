package ports

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

var letterSuffix = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+){0,2})([a-z])$`)

// ParseVersion maps an upstream version string onto semver by the rule in
// the package documentation.
func ParseVersion(s string) (*semver.Version, error) {
	if v, err := semver.NewVersion(s); err == nil {
		return v, nil
	}
	if m := letterSuffix.FindStringSubmatch(s); m != nil {
		parts := strings.Split(m[1], ".")
		if len(parts) < 3 {
			parts = append(parts, strconv.Itoa(int(m[2][0]-'a'+1)))
			return semver.NewVersion(strings.Join(parts, "."))
		}
	}
	return nil, fmt.Errorf("version %q does not map onto semver; add semver = \"X.Y.Z\" to the port", s)
}
