package hanko

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
)

// cachedFlow is a flow result of stash size n bytes that expires at exp.
func cachedFlow(id string, n int, exp time.Time) *flow.Result {
	return &flow.Result{Flow: core.Flow{ID: id, Face: "hanko", State: "profile_init",
		Stash: bytes.Repeat([]byte("x"), n), CSRFToken: "csrf", ExpiresAt: exp}}
}

// TestFlowCacheBounded checks that the flows a flowCache keeps stay within
// flowCacheSize flows and flowCacheBytes whatever their size, that a flow
// bigger than flowCacheEntryMax is not kept (nor an older copy of it), and
// that the byte count is the sum of the kept flows' sizes.
func TestFlowCacheBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	tests := []struct {
		name      string
		stash     int // bytes per flow
		n         int // flows kept one after another
		wantFlows int // flows kept at the end, -1: any within the bounds
	}{
		{"small flows: count bound", 100, 3 * flowCacheSize, flowCacheSize},
		{"profile-sized flows: byte bound", 16 << 10, flowCacheSize, -1},
		{"flows above the entry maximum: none kept", flowCacheEntryMax + 1, 64, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newFlowCache()
			for i := range tc.n {
				c.keep(cachedFlow(fmt.Sprintf("flow-%d", i), tc.stash, exp))
			}
			sum := 0
			for _, f := range c.m {
				sum += flowSize(&f)
			}
			if c.bytes != sum {
				t.Errorf("bytes = %d, kept flows sum to %d", c.bytes, sum)
			}
			if len(c.m) > flowCacheSize || c.bytes > flowCacheBytes {
				t.Errorf("kept %d flows of %d bytes, bounds %d flows and %d bytes", len(c.m), c.bytes, flowCacheSize, flowCacheBytes)
			}
			if tc.wantFlows >= 0 && len(c.m) != tc.wantFlows {
				t.Errorf("kept %d flows, want %d", len(c.m), tc.wantFlows)
			}
			last := fmt.Sprintf("flow-%d", tc.n-1)
			if got := c.get(last, now); (got != nil) != (tc.wantFlows != 0) {
				t.Errorf("get(last flow) = %v, want kept %v", got != nil, tc.wantFlows != 0)
			}
		})
	}
}

// TestFlowCacheReplaces checks that keeping a flow again replaces its copy
// (one entry, the new size counted), that a copy grown beyond
// flowCacheEntryMax is forgotten rather than left stale, and that an ended
// flow and a forgotten one leave the cache empty.
func TestFlowCacheReplaces(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	c := newFlowCache()
	c.keep(cachedFlow("a", 100, exp))
	c.keep(cachedFlow("a", 200, exp))
	if f := c.get("a", now); f == nil || len(f.Stash) != 200 || len(c.m) != 1 || c.bytes != flowSize(f) {
		t.Fatalf("after keeping a twice: %d flows, %d bytes", len(c.m), c.bytes)
	}
	c.keep(cachedFlow("a", flowCacheEntryMax, exp))
	if f := c.get("a", now); f != nil || c.bytes != 0 {
		t.Fatalf("a flow beyond flowCacheEntryMax: kept %v, %d bytes", f != nil, c.bytes)
	}
	c.keep(cachedFlow("b", 100, exp))
	ended := cachedFlow("b", 100, exp)
	ended.Ended = true
	c.keep(ended)
	c.keep(cachedFlow("c", 100, exp))
	c.forget("c")
	if len(c.m) != 0 || c.bytes != 0 {
		t.Fatalf("after an ended and a forgotten flow: %d flows, %d bytes", len(c.m), c.bytes)
	}
}
