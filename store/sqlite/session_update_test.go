package sqlite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
)

// TestUpdateSessionWritesNoIndexPage: a session update that keeps the
// indexed columns (a step-up: aal, methods, authenticated_at, updated_at)
// writes the session's row and the session change to the write-ahead log,
// not also a page of each of the five indexes of sessions; an update that
// changes an indexed column (the expiry, the logout token) still stores it.
func TestUpdateSessionWritesNoIndexPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, checkpoint, walPages := walStore(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	i := &core.Identity{ID: uuid.NewString(), SchemaID: "default", Traits: json.RawMessage(`{"email":"a@example.com"}`),
		State: core.IdentityActive, StateChangedAt: now, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateIdentity(ctx, i); err != nil {
		t.Fatal(err)
	}
	sess := &core.Session{ID: uuid.NewString(), IdentityID: i.ID, TokenHash: bytes.Repeat([]byte{1}, 32), Active: true,
		AAL: core.AAL1, Methods: []core.AuthMethod{{Method: "password", AAL: core.AAL1, CompletedAt: now}},
		IssuedAt: now, AuthenticatedAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	checkpoint()
	later := now.Add(time.Second)
	sess.Methods = append(sess.Methods, core.AuthMethod{Method: "totp", AAL: core.AAL2, CompletedAt: later})
	sess.AAL, sess.AuthenticatedAt, sess.UpdatedAt = core.AAL2, later, later
	if err := s.UpdateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	// The session's row, and the change log's row, its changed_at index
	// and its AUTOINCREMENT sequence.
	if n := walPages(); n != 4 {
		t.Errorf("a step-up wrote %d pages to the WAL, want 4", n)
	}
	got, err := s.GetSession(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.AAL != core.AAL2 || len(got.Methods) != 2 || !got.AuthenticatedAt.Equal(later) {
		t.Errorf("after the step-up: aal %s, %d methods, authenticated %v", got.AAL, len(got.Methods), got.AuthenticatedAt)
	}

	sess.ExpiresAt, sess.LogoutTokenHash = now.Add(2*time.Hour), bytes.Repeat([]byte{2}, 32)
	if err := s.UpdateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if got, err = s.GetSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(sess.ExpiresAt) || !bytes.Equal(got.LogoutTokenHash, sess.LogoutTokenHash) {
		t.Errorf("after changing the expiry and logout token: expires %v, logout token %x", got.ExpiresAt, got.LogoutTokenHash)
	}
}
