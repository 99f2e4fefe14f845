package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// seedIdentities inserts n identities with one password identifier each, a
// thousand per transaction, and returns their identifiers.
func seedIdentities(b *testing.B, s store.Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	idents := make([]string, n)
	for lo := 0; lo < n; lo += 1000 {
		err := s.Update(ctx, func(tx store.Tx) error {
			for k := lo; k < min(lo+1000, n); k++ {
				id := fmt.Sprintf("00000000-0000-4000-8000-%012d", k)
				idents[k] = fmt.Sprintf("lookup%d@example.com", k)
				i := &core.Identity{ID: id, SchemaID: "default", State: core.IdentityActive,
					Traits: json.RawMessage(`{"email":"` + idents[k] + `"}`), CreatedAt: now, UpdatedAt: now}
				i.SetCredential(core.Credential{ID: "c" + id, Type: core.CredentialPassword,
					Identifiers: []string{idents[k]}, Config: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now})
				if err := tx.CreateIdentity(ctx, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return idents
}

// BenchmarkFindIdentityByIdentifierAtScale measures the login lookup (one
// indexed query plus the identity's rows) at 10 k and 100 k identities, on
// one goroutine, so ns/op is the latency of one lookup. The other
// benchmark in this package runs it in parallel on 2 000 rows.
func BenchmarkFindIdentityByIdentifierAtScale(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("identities=%d", n), func(b *testing.B) {
			s := storetest.SQLite(b)
			idents := seedIdentities(b, s, n)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			k := 0
			for b.Loop() {
				// A stride through the table, so the lookups do not stay in
				// one page of the index.
				k = (k + 7919) % n
				if _, err := s.FindIdentityByIdentifier(ctx, core.CredentialPassword, idents[k]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
