package postgres_test

import (
	"context"
	"strings"

	"github.com/latchkey/latchkey/store/postgres"
	"testing"

	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.Postgres(t) })
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dsn     string
		wantErr string
	}{
		{"wrong scheme", "mysql://root@tcp(x:1)/db", "must start with postgres://"},
		{"no database", "postgres://u:s3cret@127.0.0.1:5432/", "no database name"},
		{"bad port", "postgres://u:s3cret@127.0.0.1:notaport/db", "postgres dsn"},
		{"unreachable", "postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "connect to postgres database \"db\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := postgres.Open(context.Background(), tc.dsn)
			if err == nil {
				s.Close()
				t.Fatal("Open: no error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Open error = %q, want one containing %q and no password", err, tc.wantErr)
			}
		})
	}
}
