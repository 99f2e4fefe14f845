package sqlite_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/sqlite"
	"github.com/latchkey/latchkey/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.SQLite(t) })
}

func TestConformanceInMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		ctx := context.Background()
		s, err := sqlite.Open(ctx, "sqlite://:memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.MigrationStatus(ctx)
	if err != nil || len(st) == 0 || st[0].Applied || st[0].Version != 1 || st[0].Name != "00001_initial.sql" {
		t.Fatalf("status before = %+v, %v", st, err)
	}
	if n, err := s.Migrate(ctx); err != nil || n != len(st) {
		t.Fatalf("Migrate = %d, %v; want %d", n, err, len(st))
	}
	if n, err := s.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("Migrate again = %d, %v; want 0", n, err)
	}
	st, err = s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st {
		if !m.Applied || m.AppliedAt.IsZero() || m.AppliedAt.Location() != time.UTC {
			t.Fatalf("status after = %+v", m)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		dsn     string
		wantErr string
	}{
		{"absolute path", "sqlite://" + filepath.Join(dir, "a.db"), ""},
		{"with driver params", "sqlite://" + filepath.Join(dir, "b.db") + "?_pragma=cache_size(-2000)", ""},
		{"memory", "sqlite://:memory:", ""},
		{"sqlite3 scheme", "sqlite3://" + filepath.Join(dir, "c.db"), ""},
		{"wrong scheme", "postgres://x/y", "must start with sqlite://"},
		{"no path", "sqlite://", "no database path"},
		{"bad query", "sqlite://x.db?a=%zz", "bad query parameters"},
		{"missing directory", "sqlite://" + filepath.Join(dir, "nope", "d.db"), "open sqlite database"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := sqlite.Open(context.Background(), tc.dsn)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				s.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				s.Close()
				t.Fatalf("Open error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// benchStore returns a store holding n identities, each with a session.
func benchStore(b *testing.B, n int) (store.Store, [][]byte, []string) {
	s := storetest.SQLite(b)
	ctx := context.Background()
	hashes := make([][]byte, n)
	idents := make([]string, n)
	now := time.Now()
	for k := range n {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", k)
		idents[k] = fmt.Sprintf("user%d@example.com", k)
		i := &core.Identity{ID: id, SchemaID: "default", State: core.IdentityActive,
			Traits: json.RawMessage(`{"email":"` + idents[k] + `"}`), CreatedAt: now, UpdatedAt: now}
		i.SetCredential(core.Credential{ID: "c" + id, Type: core.CredentialPassword,
			Identifiers: []string{idents[k]}, Config: json.RawMessage(`{}`)})
		h := sha256.Sum256([]byte(id))
		hashes[k] = h[:]
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.CreateIdentity(ctx, i); err != nil {
				return err
			}
			return tx.CreateSession(ctx, &core.Session{ID: "s" + id, IdentityID: id, TokenHash: hashes[k],
				Active: true, AAL: core.AAL1, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now,
				Methods: []core.AuthMethod{{Method: "password", AAL: core.AAL1, CompletedAt: now}}})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s, hashes, idents
}

func BenchmarkGetSessionByTokenHash(b *testing.B) {
	s, hashes, _ := benchStore(b, 2000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		k := 0
		for pb.Next() {
			if _, err := s.GetSessionByTokenHash(ctx, hashes[k%len(hashes)]); err != nil {
				b.Fatal(err)
			}
			k++
		}
	})
}

func BenchmarkFindIdentityByIdentifier(b *testing.B) {
	s, _, idents := benchStore(b, 2000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		k := 0
		for pb.Next() {
			if _, err := s.FindIdentityByIdentifier(ctx, core.CredentialPassword, idents[k%len(idents)]); err != nil {
				b.Fatal(err)
			}
			k++
		}
	})
}
