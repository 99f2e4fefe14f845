package mysql_test

import (
	"context"
	"strings"

	"github.com/latchkey/latchkey/store/mysql"
	"testing"

	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.MySQL(t) })
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dsn     string
		wantErr string
	}{
		{"no database", "mysql://u:s3cret@tcp(127.0.0.1:3306)/", "no database name"},
		{"malformed", "mysql://u:s3cret@tcp(127.0.0.1:3306)", "mysql dsn"},
		{"unreachable", "mysql://u:s3cret@tcp(127.0.0.1:1)/db?timeout=2s", "connect to mysql database \"db\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := mysql.Open(context.Background(), tc.dsn)
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
