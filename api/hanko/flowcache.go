package hanko

import (
	"errors"
	"sync"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
)

// flowCacheSize bounds the flows a flowCache keeps: the flows in progress
// on this server (a flow leaves it when it ends), about a kilobyte each.
const flowCacheSize = 1024

// flowCacheBytes bounds the bytes of the flows a flowCache keeps (flowSize
// of each): a flow's stash carries its state's payload and the payloads of
// its history. (A profile flow's payload listed every active session of
// its user until profile_init's payload was rendered instead of stored:
// counting flows alone, the bench's 32 passkey registrations after the
// session checks' 10,000 logins then kept about 10 MB of such flows alive.)
const flowCacheBytes = 2 << 20

// flowCacheEntryMax is the largest flow a flowCache keeps: a bigger one is
// read from the store by its next step instead, one statement beside the
// step's encoding and writing of that much state.
const flowCacheEntryMax = 32 << 10

// flowSize is what a kept flow counts against flowCacheBytes: its strings
// and stash, and a fixed overhead for the struct and the map entry.
func flowSize(f *core.Flow) int {
	return len(f.ID) + len(f.Kind) + len(f.Face) + len(f.Type) + len(f.State) + len(f.Stash) + len(f.CSRFToken) +
		len(f.IdentityID) + 256
}

// flowCache keeps the Flow API's flows as this server's last step stored
// them, so the next step of a flow does not read it again: serveFlow hands
// the copy to the engine (flow.Submission.Flow), which checks it as a flow
// it read itself and whose update is conditional on the copy's version. A
// copy another server (or a step that kept the CSRF token) has made stale
// is noticed there, and the step is then run once more on the flow as
// stored (retryFromStore), so the answer is the one a read would have
// given. It is safe for concurrent use.
type flowCache struct {
	mu    sync.Mutex
	m     map[string]core.Flow
	bytes int // flowSize of the flows in m
}

func newFlowCache() *flowCache { return &flowCache{m: make(map[string]core.Flow)} }

// get returns the kept copy of flow id, or nil when there is none or it has
// expired at now (the store may have deleted it: a read answers then).
func (c *flowCache) get(id string, now time.Time) *core.Flow {
	c.mu.Lock()
	f, ok := c.m[id]
	c.mu.Unlock()
	if !ok || f.Expired(now) {
		return nil
	}
	return &f
}

// keep remembers the flow a step left, forgetting it when it ended or is
// bigger than flowCacheEntryMax. To stay within flowCacheSize flows and
// flowCacheBytes, it forgets others at random.
func (c *flowCache) keep(res *flow.Result) {
	if res == nil || res.Flow.ID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(res.Flow.ID)
	size := flowSize(&res.Flow)
	if res.Ended || size > flowCacheEntryMax {
		return
	}
	for id := range c.m { // at random
		if len(c.m) < flowCacheSize && c.bytes+size <= flowCacheBytes {
			break
		}
		c.drop(id)
	}
	c.m[res.Flow.ID] = res.Flow
	c.bytes += size
}

// forget drops flow id.
func (c *flowCache) forget(id string) {
	c.mu.Lock()
	c.drop(id)
	c.mu.Unlock()
}

// drop deletes flow id from m; c.mu is held.
func (c *flowCache) drop(id string) {
	if f, ok := c.m[id]; ok {
		c.bytes -= flowSize(&f)
		delete(c.m, id)
	}
}

// retryFromStore reports whether a step that ran on a kept copy and failed
// with err is to run again on the flow as stored: the engine's refusals
// that depend on the flow record (the copy may be stale) and its
// optimistic lock. A refusal of the input or an error of the step itself
// is not.
func retryFromStore(err error) bool {
	for _, e := range []error{flow.ErrCSRF, flow.ErrConflict, flow.ErrExpired, flow.ErrNotFound, flow.ErrEnded,
		flow.ErrActionNotAllowed, flow.ErrDiscontinuity} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
