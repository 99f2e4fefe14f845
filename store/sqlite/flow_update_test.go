package sqlite_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
)

// TestUpdateFlowWritesOnePage: a flow step (UpdateFlow keeping the
// expiry) writes one page to the write-ahead log, the flow's row, and not
// also a page of the expires_at index; an UpdateFlow that changes the
// expiry still stores it.
func TestUpdateFlowWritesOnePage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, checkpoint, walPages := walStore(t)
	now := time.Now()
	f := &core.Flow{ID: uuid.NewString(), Kind: core.FlowLogin, Face: "hanko", State: "login_init",
		Stash: json.RawMessage(`{"step":1}`), CSRFToken: "a", ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateFlow(ctx, f); err != nil {
		t.Fatal(err)
	}
	checkpoint()
	f.State, f.Stash, f.CSRFToken, f.UpdatedAt = "passkey", json.RawMessage(`{"step":2}`), "b", now.Add(time.Second)
	if err := s.UpdateFlow(ctx, f); err != nil {
		t.Fatal(err)
	}
	if n := walPages(); n != 1 {
		t.Errorf("a step wrote %d pages to the WAL, want 1", n)
	}

	f.ExpiresAt = now.Add(2 * time.Hour)
	if err := s.UpdateFlow(ctx, f); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetFlow(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.ExpiresAt.UTC().Truncate(time.Microsecond); !got.ExpiresAt.Equal(want) || got.Version != 3 || got.CSRFToken != "b" {
		t.Errorf("after changing the expiry: expires %v version %d, want %v version 3", got.ExpiresAt, got.Version, want)
	}
}
