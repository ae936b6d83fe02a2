package boot

import "testing"

func TestTheTestCachesLiveUnderOneDirectory(t *testing.T) {
	t.Setenv("LPM_TEST_CACHE", "")
	if got := testCache(); got != "/var/tmp/lpm-test-cache" {
		t.Errorf("default test cache %s, want /var/tmp/lpm-test-cache (the README says so)", got)
	}
	t.Setenv("LPM_TEST_CACHE", "/srv/cache")
	if got := testCache(); got != "/srv/cache" {
		t.Errorf("LPM_TEST_CACHE=/srv/cache gave %s", got)
	}
}
