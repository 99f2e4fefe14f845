package kratos_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// calls counts store method calls by name.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) add(name string) {
	c.mu.Lock()
	c.n[name]++
	c.mu.Unlock()
}

// take returns the counts so far and starts again.
func (c *calls) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

// countingTx counts the identity, session and flow operations made on a
// store.Tx (the ones a session check could touch; the others pass through
// uncounted).
type countingTx struct {
	store.Tx
	c *calls
}

func (t countingTx) CreateIdentity(ctx context.Context, i *core.Identity) error {
	t.c.add("CreateIdentity")
	return t.Tx.CreateIdentity(ctx, i)
}

func (t countingTx) GetIdentity(ctx context.Context, id string) (*core.Identity, error) {
	t.c.add("GetIdentity")
	return t.Tx.GetIdentity(ctx, id)
}

func (t countingTx) GetIdentityByExternalID(ctx context.Context, id string) (*core.Identity, error) {
	t.c.add("GetIdentityByExternalID")
	return t.Tx.GetIdentityByExternalID(ctx, id)
}

func (t countingTx) FindIdentityByIdentifier(ctx context.Context, ct core.CredentialType, id string) (*core.Identity, error) {
	t.c.add("FindIdentityByIdentifier")
	return t.Tx.FindIdentityByIdentifier(ctx, ct, id)
}

func (t countingTx) FindIdentityByAddress(ctx context.Context, via core.AddressVia, v string) (*core.Identity, error) {
	t.c.add("FindIdentityByAddress")
	return t.Tx.FindIdentityByAddress(ctx, via, v)
}

func (t countingTx) UpdateIdentity(ctx context.Context, i *core.Identity) error {
	t.c.add("UpdateIdentity")
	return t.Tx.UpdateIdentity(ctx, i)
}

func (t countingTx) DeleteIdentity(ctx context.Context, id string) error {
	t.c.add("DeleteIdentity")
	return t.Tx.DeleteIdentity(ctx, id)
}

func (t countingTx) ListIdentities(ctx context.Context, q store.IdentityQuery) ([]core.Identity, error) {
	t.c.add("ListIdentities")
	return t.Tx.ListIdentities(ctx, q)
}

func (t countingTx) CountIdentities(ctx context.Context, q store.IdentityQuery) (int, error) {
	t.c.add("CountIdentities")
	return t.Tx.CountIdentities(ctx, q)
}

func (t countingTx) CreateSession(ctx context.Context, s *core.Session) error {
	t.c.add("CreateSession")
	return t.Tx.CreateSession(ctx, s)
}

func (t countingTx) GetSession(ctx context.Context, id string) (*core.Session, error) {
	t.c.add("GetSession")
	return t.Tx.GetSession(ctx, id)
}

func (t countingTx) GetSessionByTokenHash(ctx context.Context, h []byte) (*core.Session, error) {
	t.c.add("GetSessionByTokenHash")
	return t.Tx.GetSessionByTokenHash(ctx, h)
}

func (t countingTx) GetSessionWithIdentityByTokenHash(ctx context.Context, h []byte) (*core.Session, *core.Identity, error) {
	t.c.add("GetSessionWithIdentityByTokenHash")
	return t.Tx.GetSessionWithIdentityByTokenHash(ctx, h)
}

func (t countingTx) GetSessionWithIdentity(ctx context.Context, id string, withCreds bool) (*core.Session, *core.Identity, error) {
	t.c.add("GetSessionWithIdentity")
	return t.Tx.GetSessionWithIdentity(ctx, id, withCreds)
}

func (t countingTx) GetSessionByLogoutTokenHash(ctx context.Context, h []byte) (*core.Session, error) {
	t.c.add("GetSessionByLogoutTokenHash")
	return t.Tx.GetSessionByLogoutTokenHash(ctx, h)
}

func (t countingTx) UpdateSession(ctx context.Context, s *core.Session) error {
	t.c.add("UpdateSession")
	return t.Tx.UpdateSession(ctx, s)
}

func (t countingTx) ListSessions(ctx context.Context, q store.SessionQuery) ([]core.Session, error) {
	t.c.add("ListSessions")
	return t.Tx.ListSessions(ctx, q)
}

func (t countingTx) CountSessions(ctx context.Context, q store.SessionQuery) (int, error) {
	t.c.add("CountSessions")
	return t.Tx.CountSessions(ctx, q)
}

func (t countingTx) RevokeSessions(ctx context.Context, identityID, exceptID string) (int, error) {
	t.c.add("RevokeSessions")
	return t.Tx.RevokeSessions(ctx, identityID, exceptID)
}

func (t countingTx) DeleteSession(ctx context.Context, id string) error {
	t.c.add("DeleteSession")
	return t.Tx.DeleteSession(ctx, id)
}

func (t countingTx) DeleteIdentitySessions(ctx context.Context, identityID string) (int, error) {
	t.c.add("DeleteIdentitySessions")
	return t.Tx.DeleteIdentitySessions(ctx, identityID)
}

func (t countingTx) CreateFlow(ctx context.Context, f *core.Flow) error {
	t.c.add("CreateFlow")
	return t.Tx.CreateFlow(ctx, f)
}

func (t countingTx) GetFlow(ctx context.Context, id string) (*core.Flow, error) {
	t.c.add("GetFlow")
	return t.Tx.GetFlow(ctx, id)
}

func (t countingTx) UpdateFlow(ctx context.Context, f *core.Flow) error {
	t.c.add("UpdateFlow")
	return t.Tx.UpdateFlow(ctx, f)
}

// countingStore is a store.Store whose identity, session and flow calls,
// inside transactions too, are counted; Update counts as one call besides
// what it runs.
type countingStore struct {
	countingTx
	st store.Store
}

func (s countingStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	s.c.add("Update")
	return s.st.Update(ctx, func(tx store.Tx) error { return fn(countingTx{Tx: tx, c: s.c}) })
}

func (s countingStore) Ping(ctx context.Context) error { return s.st.Ping(ctx) }
func (s countingStore) Close() error                   { return s.st.Close() }

// writes are the counted calls that change the database.
func writes(n map[string]int) []string {
	var out []string
	for name := range n {
		if name == "Update" || strings.HasPrefix(name, "Create") || strings.HasPrefix(name, "Delete") ||
			strings.HasPrefix(name, "Revoke") || (strings.HasPrefix(name, "Update") && name != "Update") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestWhoAmIStoreCalls pins what /sessions/whoami costs: one lookup of the
// session by token hash with its identity and addresses, without
// credentials (one statement), no writes, except a
// device/last-seen update at most once per session.DefaultTouchInterval.
func TestWhoAmIStoreCalls(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := &calls{n: map[string]int{}}
			e := newSelfServiceEnvOn(t, func(tb testing.TB) store.Store {
				st := open(tb)
				return countingStore{countingTx: countingTx{Tx: st, c: c}, st: st}
			})
			n := e.native(t)
			n.token = e.registerNative(t, n, "kim@example.com", "correct horse battery")
			tests := []struct {
				name    string
				advance time.Duration
				want    map[string]int
			}{
				{"fresh session", 0, map[string]int{"GetSessionWithIdentityByTokenHash": 1}},
				{"within the touch interval", time.Minute, map[string]int{"GetSessionWithIdentityByTokenHash": 1}},
				// The throttled device update: one transaction re-reading
				// the session row under lock and writing it.
				{"touch interval passed", 5 * time.Minute, map[string]int{"GetSessionWithIdentityByTokenHash": 1,
					"Update": 1, "GetSession": 1, "UpdateSession": 1}},
				{"just touched", time.Second, map[string]int{"GetSessionWithIdentityByTokenHash": 1}},
			}
			for _, tc := range tests {
				e.clock.add(tc.advance)
				c.take()
				must(t, n.do("GET", "/sessions/whoami", nil), 200)
				got := c.take()
				t.Logf("%s: %v (writes %v)", tc.name, got, writes(got))
				if !maps.Equal(got, tc.want) {
					t.Errorf("%s: store calls %v, want %v", tc.name, got, tc.want)
				}
			}
		})
	}
}
