package kratos_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/kratos"
)

// TestExtendHonoursEarliestPossibleExtend: with
// session.earliest_possible_extend set, PATCH /admin/sessions/{id}/extend
// leaves a session that expires later than that from now alone, and extends
// one that expires sooner (Kratos' CanBeRefreshed).
func TestExtendHonoursEarliestPossibleExtend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteOnly)
	now := time.Now().UTC().Truncate(time.Second)
	h, err := kratos.New(kratos.Options{Identities: e.ids, Sessions: e.store, PublicBaseURL: publicBase, WebAuthn: e.store,
		SessionLifespan: 24 * time.Hour, EarliestPossibleExtend: time.Hour, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.MountAdmin(mux)
	srv := api.Chain(kratos.AdminPrefix(mux), api.WithRequestID())

	id := e.createIdentity(t, aliceBody())
	tests := []struct {
		name     string
		expires  time.Duration // from now
		extended bool
	}{
		{"expires in 23h: too early", 23 * time.Hour, false},
		{"expires in 2h: too early", 2 * time.Hour, false},
		{"expires in 30m: extended", 30 * time.Minute, true},
	}
	for _, tt := range tests {
		s := e.addSession(t, id, now.Add(tt.expires-24*time.Hour))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("PATCH", "/admin/sessions/"+s.ID+"/extend", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", tt.name, rec.Code, rec.Body)
		}
		got, err := e.store.GetSession(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := s.ExpiresAt
		if tt.extended {
			want = now.Add(24 * time.Hour)
		}
		if !got.ExpiresAt.Equal(want) || !got.Active {
			t.Errorf("%s: expires_at = %v, want %v", tt.name, got.ExpiresAt, want)
		}
	}
}
