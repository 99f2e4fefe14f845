package identity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestDisablingEndsSessions: setting an identity inactive (PUT or JSON
// Patch) revokes its sessions in the same transaction, so no face's session
// check (some read only the session row) lets it in; re-activating does not
// revive them.
func TestDisablingEndsSessions(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			svc, _ := newService(t, st, time.Now)
			now := time.Now().UTC()
			newSession := func(id, identityID string) {
				t.Helper()
				if err := st.CreateSession(ctx, &core.Session{ID: id, IdentityID: identityID, TokenHash: []byte(id), Active: true,
					AAL: core.AAL1, IssuedAt: now, AuthenticatedAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			active := func(id string) bool {
				t.Helper()
				s, err := st.GetSession(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				return s.Active
			}
			for k, tc := range []struct {
				name    string
				disable func(id string) error
			}{
				{"put", func(id string) error {
					_, err := svc.Update(ctx, id, identity.Draft{SchemaID: "default", Traits: json.RawMessage(`{"email":"put@example.com"}`), State: core.IdentityInactive})
					return err
				}},
				{"patch", func(id string) error {
					_, err := svc.Patch(ctx, id, []byte(`[{"op":"replace","path":"/state","value":"inactive"}]`))
					return err
				}},
			} {
				i, err := svc.Create(ctx, identity.Draft{SchemaID: "default", Traits: json.RawMessage(`{"email":"` + tc.name + `@example.com"}`)})
				if err != nil {
					t.Fatal(err)
				}
				other, err := svc.Create(ctx, identity.Draft{SchemaID: "default", Traits: json.RawMessage(`{"email":"other-` + tc.name + `@example.com"}`)})
				if err != nil {
					t.Fatal(err)
				}
				sid, otherSID := fmt.Sprintf("a0000000-0000-4000-8000-%012d", k), fmt.Sprintf("b0000000-0000-4000-8000-%012d", k)
				newSession(sid, i.ID)
				newSession(otherSID, other.ID)
				// A change that keeps the identity active leaves sessions alone.
				if _, err := svc.Patch(ctx, i.ID, []byte(`[{"op":"add","path":"/metadata_public","value":{"a":1}}]`)); err != nil {
					t.Fatal(err)
				}
				if !active(sid) {
					t.Fatalf("%s: a change that keeps the identity active revoked its session", tc.name)
				}
				if err := tc.disable(i.ID); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if active(sid) {
					t.Errorf("%s: the disabled identity's session is still active", tc.name)
				}
				if !active(otherSID) {
					t.Errorf("%s: another identity's session was revoked", tc.name)
				}
				if _, err := svc.Patch(ctx, i.ID, []byte(`[{"op":"replace","path":"/state","value":"active"}]`)); err != nil {
					t.Fatal(err)
				}
				if active(sid) {
					t.Errorf("%s: re-activating revived a revoked session", tc.name)
				}
			}
		})
	}
}
