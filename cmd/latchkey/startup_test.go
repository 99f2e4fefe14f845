package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestInitAllocations: package initialisation, which every command pays
// before it runs (serve's cold start included), leaves the work that only
// some requests need to their first use. GODEBUG=inittrace=1 reports each
// package's init allocations; this test binary links the same packages
// as latchkey, so it is run again doing nothing but init.
func TestInitAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	tests := []struct {
		pkg      string
		maxBytes int
		why      string
	}{
		// The hosted pages' templates (about 0.6 MB parsed) and the nine
		// i18n catalogs are built on the first page rendered.
		{"github.com/latchkey/latchkey/ui", 256 << 10, "templates and catalogs parsed at init, not on the first page"},
	}
	for _, tc := range tests {
		re := regexp.MustCompile(`(?m)^init ` + regexp.QuoteMeta(tc.pkg) + ` @[^,]*, [^,]*, (\d+) bytes`)
		m := re.FindSubmatch(out)
		if m == nil {
			t.Errorf("no inittrace line for %s in:\n%s", tc.pkg, out)
			continue
		}
		n, _ := strconv.Atoi(string(m[1]))
		t.Logf("%s: init allocates %d bytes", tc.pkg, n)
		if n > tc.maxBytes {
			t.Errorf("%s: init allocates %d bytes, want ≤ %d (%s?)", tc.pkg, n, tc.maxBytes, tc.why)
		}
	}
}
