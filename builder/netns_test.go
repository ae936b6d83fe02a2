package builder

import (
	"strings"
	"testing"
)

func TestDistccHostListsNameTheirTCPHosts(t *testing.T) {
	cases := []struct {
		name, hosts, targets, err string
	}{
		{"a host without a port gets distcc's", "10.0.0.2", "10.0.0.2:3632", ""},
		{"limits and options stay after the address", "10.0.0.2:4000/8,lzo", "10.0.0.2:4000", ""},
		{"localhost compiles locally and options pass", "--randomize localhost/2 box/4", "box:3632", ""},
		{"ssh hosts cannot leave the sandbox", "@box/4", "", "ssh or zeroconf"},
		{"neither can zeroconf", "+zeroconf", "", "ssh or zeroconf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, targets, err := distccTargets(tc.hosts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(targets, " "); got != tc.targets {
				t.Errorf("targets %q, want %q", got, tc.targets)
			}
		})
	}
}
