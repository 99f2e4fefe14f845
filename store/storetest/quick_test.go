package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
)

func TestSQLiteSmoke(t *testing.T) {
	s := SQLite(t)
	ctx := context.Background()
	now := time.Now()
	i := &core.Identity{ID: "00000000-0000-4000-8000-000000000001", SchemaID: "default", Traits: []byte(`{"email":"a@b.c"}`), State: core.IdentityActive, CreatedAt: now, UpdatedAt: now}
	i.SetCredential(core.Credential{ID: "c1", Type: core.CredentialPassword, Identifiers: []string{"a@b.c"}, Config: []byte(`{}`)})
	if err := s.CreateIdentity(ctx, i); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindIdentityByIdentifier(ctx, core.CredentialPassword, "a@b.c")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", got)
	n, _, err := s.Hit(ctx, "k", time.Minute, now)
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
}
