package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestLookupsWithUnstorableText looks identities up by text no stored value
// can hold (a NUL character, invalid UTF-8) on every backend: a client error
// or not found, never a database error (PostgreSQL refuses to compare such
// text).
func TestLookupsWithUnstorableText(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newService(t, open(t), time.Now)
			ctx := context.Background()
			if _, err := svc.Create(ctx, identity.Draft{Traits: traits("ada@example.com")}); err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{"ada\x00@example.com", "ada\xff@example.com"} {
				for _, q := range []store.IdentityQuery{{CredentialIdentifier: v}, {IdentifierPrefix: v}, {OrganizationID: v}} {
					if _, err := svc.List(ctx, q); code(err) != core.CodeInvalid {
						t.Errorf("List(%+v): %v, want CodeInvalid", q, err)
					}
					if _, err := svc.Count(ctx, q); code(err) != core.CodeInvalid {
						t.Errorf("Count(%+v): %v, want CodeInvalid", q, err)
					}
				}
				if _, err := svc.GetByExternalID(ctx, v); code(err) != core.CodeNotFound {
					t.Errorf("GetByExternalID(%q): %v, want CodeNotFound", v, err)
				}
				if _, err := svc.Create(ctx, identity.Draft{Traits: traits("bob@example.com"), ExternalID: v}); code(err) != core.CodeInvalid {
					t.Errorf("Create with external id %q: %v, want CodeInvalid", v, err)
				}
			}
		})
	}
}
