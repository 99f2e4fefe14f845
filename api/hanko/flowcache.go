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

// flowCache keeps the Flow API's flows as this server's last step stored
// them, so the next step of a flow does not read it again: serveFlow hands
// the copy to the engine (flow.Submission.Flow), which checks it as a flow
// it read itself and whose update is conditional on the copy's version. A
// copy another server (or a step that kept the CSRF token) has made stale
// is noticed there, and the step is then run once more on the flow as
// stored (retryFromStore), so the answer is the one a read would have
// given. It is safe for concurrent use.
type flowCache struct {
	mu sync.Mutex
	m  map[string]core.Flow
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

// keep remembers the flow a step left, forgetting it when it ended.
func (c *flowCache) keep(res *flow.Result) {
	if res == nil || res.Flow.ID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if res.Ended {
		delete(c.m, res.Flow.ID)
		return
	}
	if _, ok := c.m[res.Flow.ID]; !ok && len(c.m) >= flowCacheSize {
		for id := range c.m { // one, at random
			delete(c.m, id)
			break
		}
	}
	c.m[res.Flow.ID] = res.Flow
}

// forget drops flow id.
func (c *flowCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
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
