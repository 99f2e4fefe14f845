package identity

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// SessionLister is the part of a store (or transaction) DropSessionMethod
// uses.
type SessionLister interface {
	ListSessions(ctx context.Context, q store.SessionQuery) ([]core.Session, error)
	UpdateSession(ctx context.Context, s *core.Session) error
}

// DropSessionMethod removes the authentication methods named method from every
// active session of the identity and lowers their AAL to what the remaining
// methods reach: once a second factor is removed, no session goes on
// claiming it. Call it in the transaction that removes the credential. It
// returns how many sessions changed, or a wrapped store error.
func DropSessionMethod(ctx context.Context, st SessionLister, identityID, method string, now time.Time) (int, error) {
	active := true
	list, err := st.ListSessions(ctx, store.SessionQuery{IdentityID: identityID, Active: &active, Now: now})
	if err != nil {
		return 0, fmt.Errorf("list sessions: %w", err)
	}
	n := 0
	for i := range list {
		s := &list[i]
		kept := slices.DeleteFunc(slices.Clone(s.Methods), func(m core.AuthMethod) bool { return m.Method == method })
		if len(kept) == len(s.Methods) {
			continue
		}
		s.Methods = kept
		s.AAL = s.ComputeAAL()
		s.UpdatedAt = now.UTC().Truncate(time.Microsecond)
		if err := st.UpdateSession(ctx, s); err != nil {
			return n, fmt.Errorf("update session: %w", err)
		}
		n++
	}
	return n, nil
}
