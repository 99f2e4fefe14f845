package hanko

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/sqlstore"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestStepTx: a step's transaction reads an identity and its WebAuthn
// credentials once, hands out copies, and reads again after a write.
func TestStepTx(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	sc := &statementCounter{n: map[string]int{}}
	st.(*sqlstore.Store).Trace(sc)
	e := newFEnvOn(t, st, nil, nil)
	u := e.createUser(t, "step@example.com", "")
	reads := func() int {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		n := 0
		for _, c := range sc.n {
			n += c
		}
		clear(sc.n)
		return n
	}
	err := stepStore{st}.Update(ctx, func(tx store.Tx) error {
		reads()
		i, err := tx.GetIdentity(ctx, u.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ListWebAuthnCredentials(ctx, u.ID); err != nil {
			return err
		}
		first := reads()
		i.Traits = json.RawMessage(`{"email":"changed@example.com"}`)
		i.Addresses[0].Value = "changed@example.com"
		again, err := tx.GetIdentity(ctx, u.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ListWebAuthnCredentials(ctx, u.ID); err != nil {
			return err
		}
		if n := reads(); n != 0 || again.Addresses[0].Value != "step@example.com" || string(again.Traits) == string(i.Traits) {
			t.Errorf("second read: %d statements (first %d), address %s", n, first, again.Addresses[0].Value)
		}
		again.State = core.IdentityInactive
		if err := tx.UpdateIdentity(ctx, again); err != nil {
			return err
		}
		reads()
		after, err := tx.GetIdentity(ctx, u.ID)
		if err != nil {
			return err
		}
		if n := reads(); n == 0 || after.State != core.IdentityInactive {
			t.Errorf("read after a write: %d statements, state %s", n, after.State)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
