package identity_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/store/storetest"
)

// FuzzPatch applies arbitrary JSON Patch documents to a stored identity: a
// patch either fails with a client error (nothing stored) or yields an
// identity whose server-set fields (id, created_at, credentials) are
// unchanged.
func FuzzPatch(f *testing.F) {
	for _, p := range []string{
		`[{"op":"replace","path":"/traits/email","value":"b@example.com"}]`,
		`[{"op":"replace","path":"/id","value":"x"}]`,
		`[{"op":"replace","path":"id","value":"x"}]`,
		`[{"op":"move","from":"/traits","path":"/id"}]`,
		`[{"op":"copy","from":"/traits","path":"/metadata_public"}]`,
		`[{"op":"copy","from":"/verifiable_addresses","path":"/verifiable_addresses/-"}]`,
		`[{"op":"add","path":"/credentials","value":{}}]`,
		`[{"op":"remove","path":"/verifiable_addresses/-1/id"}]`,
		`[{"op":"replace","path":"/verifiable_addresses/0/verified","value":true}]`,
		`[{"op":"test","path":"/state","value":"active"},{"op":"replace","path":"/state","value":"inactive"}]`,
		`[{"op":"replace","path":"","value":{}}]`,
		`[{"op":"replace","path":"//id","value":"x"}]`,
		`[{"op":"add","path":"/metadata_admin","value":{"a":[1,2,{"b":null}]}}]`,
		`[{"op":"replace","path":"/organization_id","value":"not-a-uuid"}]`,
		`[{"op":"test","path":"","value":null}]`, `[{"op":"test","path":"","value":{}}]`,
		`[]`, `{}`, `null`, `[null]`, `[{"op":"bogus"}]`,
	} {
		f.Add([]byte(p))
	}
	st := storetest.SQLite(f)
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	svc, _ := newService(f, st, now)
	ctx := context.Background()
	orig, err := svc.Create(ctx, identity.Draft{Traits: traits("fuzz@example.com")})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, patch []byte) {
		got, err := svc.Patch(ctx, orig.ID, patch)
		if err != nil {
			switch core.ErrorCode(err) {
			case core.CodeInvalid, core.CodeConflict:
				return
			}
			t.Fatalf("Patch(%s): %v (code %q), want a client error", patch, err, core.ErrorCode(err))
		}
		if got.ID != orig.ID || !got.CreatedAt.Equal(orig.CreatedAt) {
			t.Fatalf("Patch(%s) changed id or created_at: %s %v", patch, got.ID, got.CreatedAt)
		}
		if !json.Valid(got.Traits) {
			t.Fatalf("Patch(%s) stored invalid traits %q", patch, got.Traits)
		}
		// Put the original back for the next input.
		if _, err := svc.Patch(ctx, orig.ID, []byte(`[{"op":"replace","path":"/traits","value":{"email":"fuzz@example.com"}},{"op":"replace","path":"/state","value":"active"}]`)); err != nil {
			t.Fatalf("restore: %v", err)
		}
	})
}
