package storetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/sqlite"
)

// setupTimeout bounds connecting to and migrating a test database.
const setupTimeout = 30 * time.Second

// SQLite returns a migrated store on a fresh SQLite file in t's temporary
// directory, closed when t ends. It fails t on any error.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlite.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("storetest: open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate sqlite: %v", err)
	}
	return s
}
