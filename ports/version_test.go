package ports

import "testing"

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"6.12", "6.12.0"},
		{"2.41", "2.41.0"},
		{"1.3.1", "1.3.1"},
		{"20250123", "20250123.0.0"},
		{"3.0.0-rc1", "3.0.0-rc1"},
		{"668", "668.0.0"},
		{"2025a", "2025.1.0"},
		{"2025b", "2025.2.0"},
		{"1.2z", "1.2.26"},
		{"v2.1", "2.1.0"},
	}
	for _, tt := range tests {
		v, err := ParseVersion(tt.in)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tt.in, err)
			continue
		}
		if v.String() != tt.want {
			t.Errorf("ParseVersion(%q) = %s, want %s", tt.in, v, tt.want)
		}
	}
}

func TestParseVersionRejectsUnmappable(t *testing.T) {
	for _, in := range []string{"1.2.3.4", "1.2.3b", "9.9p2", "abc", ""} {
		if _, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) succeeded, want an error asking for semver =", in)
		}
	}
}

func TestParseVersionKeepsOrder(t *testing.T) {
	order := []string{"2024b", "2025a", "2025b", "2025.3.1", "20250123"}
	for i := 1; i < len(order); i++ {
		a, _ := ParseVersion(order[i-1])
		b, _ := ParseVersion(order[i])
		if !a.LessThan(b) {
			t.Errorf("%s should sort before %s", order[i-1], order[i])
		}
	}
}
