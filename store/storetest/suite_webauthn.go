package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// webauthnCredential returns a credential of identityID with a fresh
// random credential id.
func webauthnCredential(identityID string, created time.Time) *core.WebAuthnCredential {
	return &core.WebAuthnCredential{
		ID: base64.RawURLEncoding.EncodeToString(token()), IdentityID: identityID,
		UserHandle: []byte(identityID)[:16], PublicKey: token(), AttestationType: "none",
		AAGUID: token()[:16], SignCount: 7, Transports: []string{"internal", "hybrid"},
		BackupEligible: true, BackupState: true, UserVerified: true, Attachment: "platform",
		DisplayName: "Mac – Safari", CreatedAt: created, UpdatedAt: created,
	}
}

func normWebAuthn(c core.WebAuthnCredential) core.WebAuthnCredential {
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	if c.LastUsedAt != nil {
		t := utc(*c.LastUsedAt)
		c.LastUsedAt = &t
	}
	if len(c.Transports) == 0 {
		c.Transports = nil
	}
	return c
}

func sameWebAuthn(t *testing.T, what string, got *core.WebAuthnCredential, want core.WebAuthnCredential) {
	t.Helper()
	g, _ := json.Marshal(normWebAuthn(*got))
	e, _ := json.Marshal(normWebAuthn(want))
	if !bytes.Equal(g, e) {
		t.Fatalf("%s: credential differs:\n got %s\nwant %s", what, g, e)
	}
}

func testWebAuthnCredentials(t *testing.T, s store.Store) {
	ctx := context.Background()
	i, other := identity(email()), identity(email())
	mustCreate(t, s, i)
	mustCreate(t, s, other)

	if list, err := s.ListWebAuthnCredentials(ctx, i.ID); err != nil || len(list) != 0 {
		t.Fatalf("ListWebAuthnCredentials of an identity without any: %v, %v; want an empty list", list, err)
	}
	a := webauthnCredential(i.ID, base.Add(time.Second))
	b := webauthnCredential(i.ID, base)
	b.MFAOnly, b.Transports, b.AAGUID, b.DisplayName = true, nil, nil, ""
	c := webauthnCredential(other.ID, base)
	for _, cr := range []*core.WebAuthnCredential{a, b, c} {
		wantErr(t, "CreateWebAuthnCredential", s.CreateWebAuthnCredential(ctx, cr), nil)
	}

	// The credential id is unique across identities.
	dup := webauthnCredential(i.ID, base)
	dup.ID = c.ID
	wantErr(t, "CreateWebAuthnCredential with another identity's credential id", s.CreateWebAuthnCredential(ctx, dup), store.ErrConflict)
	orphan := webauthnCredential(newID(), base)
	wantErr(t, "CreateWebAuthnCredential for an unknown identity", s.CreateWebAuthnCredential(ctx, orphan), store.ErrNotFound)

	got, err := s.GetWebAuthnCredential(ctx, a.ID)
	wantErr(t, "GetWebAuthnCredential", err, nil)
	sameWebAuthn(t, "GetWebAuthnCredential", got, *a)
	_, err = s.GetWebAuthnCredential(ctx, "nope")
	wantErr(t, "GetWebAuthnCredential unknown", err, store.ErrNotFound)

	list, err := s.ListWebAuthnCredentials(ctx, i.ID)
	wantErr(t, "ListWebAuthnCredentials", err, nil)
	if len(list) != 2 {
		t.Fatalf("ListWebAuthnCredentials: %d credentials, want 2", len(list))
	}
	sameWebAuthn(t, "list[0] (oldest)", &list[0], *b)
	sameWebAuthn(t, "list[1]", &list[1], *a)

	// Counters, flags, name and last use are updated; the key material and
	// owner are not.
	used := base.Add(time.Hour)
	upd := *a
	upd.SignCount, upd.CloneWarning, upd.BackupState, upd.DisplayName = 4294967295, true, false, "Renamed"
	upd.LastUsedAt, upd.UpdatedAt, upd.Transports, upd.MFAOnly = &used, used, []string{"usb"}, true
	upd.PublicKey = []byte("ignored")
	wantErr(t, "UpdateWebAuthnCredential", s.UpdateWebAuthnCredential(ctx, &upd), nil)
	wantErr(t, "UpdateWebAuthnCredential unchanged", s.UpdateWebAuthnCredential(ctx, &upd), nil)
	got, err = s.GetWebAuthnCredential(ctx, a.ID)
	wantErr(t, "GetWebAuthnCredential after update", err, nil)
	upd.PublicKey = a.PublicKey
	sameWebAuthn(t, "after update", got, upd)
	foreign := *c
	foreign.IdentityID = i.ID
	wantErr(t, "UpdateWebAuthnCredential of another identity's credential", s.UpdateWebAuthnCredential(ctx, &foreign), store.ErrNotFound)

	// An identity update leaves WebAuthn credentials alone.
	cur, err := s.GetIdentity(ctx, i.ID)
	wantErr(t, "GetIdentity", err, nil)
	wantErr(t, "UpdateIdentity", s.UpdateIdentity(ctx, cur), nil)
	if list, _ := s.ListWebAuthnCredentials(ctx, i.ID); len(list) != 2 {
		t.Fatalf("after UpdateIdentity: %d credentials, want 2", len(list))
	}

	wantErr(t, "DeleteWebAuthnCredential of another identity's credential", s.DeleteWebAuthnCredential(ctx, i.ID, c.ID), store.ErrNotFound)
	wantErr(t, "DeleteWebAuthnCredential", s.DeleteWebAuthnCredential(ctx, i.ID, b.ID), nil)
	wantErr(t, "DeleteWebAuthnCredential again", s.DeleteWebAuthnCredential(ctx, i.ID, b.ID), store.ErrNotFound)

	// Deleting the identity deletes its credentials, and only its.
	wantErr(t, "DeleteIdentity", s.DeleteIdentity(ctx, i.ID), nil)
	_, err = s.GetWebAuthnCredential(ctx, a.ID)
	wantErr(t, "credential of a deleted identity", err, store.ErrNotFound)
	if _, err := s.GetWebAuthnCredential(ctx, c.ID); err != nil {
		t.Fatalf("other identity's credential: %v", err)
	}

	// Malformed ids (from a client) are ids no row has, on every backend.
	for _, bad := range append(badIDs, "a+b/c=", "é"+c.ID) {
		_, err := s.GetWebAuthnCredential(ctx, bad)
		wantErr(t, "GetWebAuthnCredential malformed", err, store.ErrNotFound)
		wantErr(t, "DeleteWebAuthnCredential malformed", s.DeleteWebAuthnCredential(ctx, other.ID, bad), store.ErrNotFound)
		wantErr(t, "DeleteWebAuthnCredential malformed identity", s.DeleteWebAuthnCredential(ctx, bad, c.ID), store.ErrNotFound)
		if list, err := s.ListWebAuthnCredentials(ctx, bad); err != nil || len(list) != 0 {
			t.Fatalf("ListWebAuthnCredentials(%q) = %v, %v; want none", bad, list, err)
		}
		m := *c
		m.IdentityID = bad
		if bad != "" {
			wantErr(t, "UpdateWebAuthnCredential malformed identity", s.UpdateWebAuthnCredential(ctx, &m), store.ErrNotFound)
		}
	}

	// A write inside a failed transaction is rolled back.
	d := webauthnCredential(other.ID, base)
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateWebAuthnCredential(ctx, d); err != nil {
			return err
		}
		if _, err := tx.GetWebAuthnCredential(ctx, d.ID); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Update", err, boom)
	_, err = s.GetWebAuthnCredential(ctx, d.ID)
	wantErr(t, "credential created in a rolled-back transaction", err, store.ErrNotFound)
}
