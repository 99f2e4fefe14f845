package sqlite_test

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite"

	"github.com/latchkey/latchkey/store/sqlite"
	"github.com/latchkey/latchkey/store/sqlstore"
)

// TestMigrateOutOfOrder: a database that already has a higher migration
// (landed first on another branch) still gets a lower one applied later.
func TestMigrateOutOfOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	full := sqlite.Migrations()
	first := fstest.MapFS{}
	if err := fs.WalkDir(full, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(full, path)
		if err != nil {
			return err
		}
		if path != "00003_webauthn.sql" {
			first[path] = &fstest.MapFile{Data: b}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	first["00099_later.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE later_branch (id INTEGER);\n-- +goose Down\nDROP TABLE later_branch;\n")}
	migrate := func(src fs.FS) int {
		t.Helper()
		s, err := sqlstore.New(sqlstore.Config{Dialect: sqlite.Dialect, Write: db, Migrations: src})
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Migrate(ctx)
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return n
	}
	if n := migrate(first); n != len(first) {
		t.Fatalf("first Migrate applied %d, want %d", n, len(first))
	}
	both := fstest.MapFS{"00099_later.sql": first["00099_later.sql"]}
	for k, v := range first {
		both[k] = v
	}
	b, _ := fs.ReadFile(full, "00003_webauthn.sql")
	both["00003_webauthn.sql"] = &fstest.MapFile{Data: b}
	if n := migrate(both); n != 1 {
		t.Fatalf("second Migrate applied %d, want 1 (the lower, missing migration)", n)
	}
	if _, err := db.ExecContext(ctx, `SELECT count(*) FROM webauthn_credentials`); err != nil {
		t.Fatalf("00003 not applied: %v", err)
	}
}
