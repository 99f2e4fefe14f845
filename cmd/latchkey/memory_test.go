package main

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/heaptest"
)

// TestApplyMemoryLimit: runtime.memory_limit becomes the Go runtime's soft
// limit, unless GOMEMLIMIT is set, which wins.
func TestApplyMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name   string
		limit  config.ByteSize
		env    string
		before int64
		want   int64
	}{
		{"from the config", 96 * config.MB, "", old, int64(96 * config.MB)},
		{"another value", 320 * config.MB, "", old, int64(320 * config.MB)},
		{"GOMEMLIMIT wins", 96 * config.MB, "200MiB", 200 << 20, 200 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(tc.before)
			getenv := func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.env
				}
				return ""
			}
			if got := applyMemoryLimit(config.Runtime{MemoryLimit: tc.limit}, getenv, log); got != tc.want {
				t.Errorf("applyMemoryLimit = %d, want %d", got, tc.want)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("runtime limit = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestReleaseStartupPages: on Linux the executable's read-only mappings
// are advised (MADV_PAGEOUT) and the process keeps running the code and
// reading the data whose pages were reclaimed.
func TestReleaseStartupPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	before := rssFile(t)
	n := releaseStartupPages()
	if n == 0 {
		t.Skip("the kernel refused MADV_PAGEOUT here (older than 5.4, or the executable belongs to another user)")
	}
	after := rssFile(t)
	t.Logf("advised %d MB; RssFile %s → %s", n>>20, before, after)
	// Code and read-only data paged out come back on use.
	if got := strings.ToUpper(strings.Repeat("ab", 3)); got != "ABABAB" {
		t.Fatalf("after paging out: %q", got)
	}
	if _, _, err := config.Load(config.LoadOptions{Dev: true, Env: []string{}}); err != nil {
		t.Fatalf("config after paging out: %v", err)
	}
	// Every read-only mapping of the executable reads back at random
	// (VmFlags "rr", MADV_RANDOM): a fault maps its page, not a readahead
	// window around it.
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	flags := exeVmFlags(t, exe)
	if len(flags) == 0 {
		t.Fatalf("no read-only mapping of %s in /proc/self/smaps", exe)
	}
	for m, f := range flags {
		if !slices.Contains(f, "rr") {
			t.Errorf("mapping %s of the executable: VmFlags %v, want rr (MADV_RANDOM)", m, f)
		}
	}
}

// exeVmFlags returns the VmFlags of each mapping of exe without write
// permission, keyed by its address range.
func exeVmFlags(t *testing.T, exe string) map[string][]string {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	cur := ""
	for _, l := range strings.Split(string(b), "\n") {
		fields := strings.Fields(l)
		switch {
		case len(fields) >= 6 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			cur = ""
			if strings.Join(fields[5:], " ") == exe && !strings.Contains(fields[1], "w") {
				cur = fields[0]
			}
		case cur != "" && len(fields) > 0 && fields[0] == "VmFlags:":
			out[cur] = fields[1:]
		}
	}
	return out
}

func rssFile(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "RssFile:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "RssFile:"))
		}
	}
	return "?"
}

// startupHeapGoalMax bounds the heap goal of a server that has just
// started (serve --dev, migrations run): the goal follows what the
// collection at the end of start-up found live, about 6 MB of it the
// server's (21.5 MB in this test while the migration parser's pooled
// scan buffers still counted).
const startupHeapGoalMax = 16 << 20

// TestStartupHeapGoal: once serve is ready, the heap goal (the heap size
// at which the next collection starts) reflects the heap the server keeps,
// not start-up's garbage. goose's SQL parser puts its 4 MB scan buffers
// back into a sync.Pool, which keeps them through one collection (its
// victim cache): after the single collection of debug.FreeOSMemory they
// still counted as live (the binary's goal was 39 MB), so the first 30 MB
// of request garbage grew the heap, and the RSS, before any collection.
// Runs in a fresh process (heaptest) so that no earlier test's heap counts.
func TestStartupHeapGoal(t *testing.T) {
	if !heaptest.InFreshProcess(t) {
		return
	}
	devEnv(t)
	startServe(t, serveOptions{dev: true, migrate: true})
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	goal, live := s[0].Value.Uint64(), s[1].Value.Uint64()
	t.Logf("after start-up: heap goal %.1f MB, live heap at the last collection %.1f MB", float64(goal)/(1<<20), float64(live)/(1<<20))
	if goal > startupHeapGoalMax {
		t.Errorf("heap goal after start-up %d bytes, want at most %d", goal, startupHeapGoalMax)
	}
}
