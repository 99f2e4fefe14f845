package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
)

// BenchmarkWhoami measures the session check through the whole public
// handler (middleware included) on SQLite: the hot path of ARCHITECTURE.md.
// Compare before/after a middleware change with -benchmem.
func BenchmarkWhoami(b *testing.B) {
	b.Setenv("LATCHKEY_DSN", "sqlite://"+filepath.Join(b.TempDir(), "b.db"))
	b.Setenv("LATCHKEY_LOG_LEVEL", "info")
	ctx := context.Background()
	cfg, _, err := loadConfig("", true)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := loadDevSecrets(cfg); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := build(ctx, cfg, log, true)
	if err != nil {
		b.Fatal(err)
	}
	defer a.close()
	id := seedIdentity(b, a.db)
	_, token, err := a.sessions.Issue(ctx, id, core.AuthMethod{Method: "password"}, core.Device{}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	h := a.publicHandler()
	req := httptest.NewRequest(http.MethodGet, "/sessions/whoami", nil)
	req.Header.Set("X-Session-Token", token)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("whoami = %d %s", w.Code, w.Body)
		}
	}
}
