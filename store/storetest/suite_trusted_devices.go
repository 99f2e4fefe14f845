package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/store"
)

func testTrustedDevices(t *testing.T, s store.Store) {
	ctx := context.Background()
	i, other := identity(email()), identity(email())
	mustCreate(t, s, i)
	mustCreate(t, s, other)
	dev := func(identityID string, created time.Time) *store.TrustedDevice {
		return &store.TrustedDevice{ID: newID(), IdentityID: identityID, TokenHash: []byte("hash-" + newID()),
			ExpiresAt: created.Add(time.Hour), CreatedAt: created}
	}

	a := dev(i.ID, base)
	wantErr(t, "CreateTrustedDevice", s.CreateTrustedDevice(ctx, a, 3), nil)
	got, err := s.GetTrustedDevice(ctx, a.ID)
	wantErr(t, "GetTrustedDevice", err, nil)
	if got.ID != a.ID || got.IdentityID != i.ID || !bytes.Equal(got.TokenHash, a.TokenHash) ||
		!got.ExpiresAt.Equal(a.ExpiresAt.Truncate(time.Microsecond)) || !got.CreatedAt.Equal(a.CreatedAt.Truncate(time.Microsecond)) {
		t.Fatalf("GetTrustedDevice = %+v, want %+v", got, a)
	}
	for _, tc := range []struct{ name, id string }{{"unknown", newID()}, {"not a uuid", "x' OR 1=1"}, {"empty", ""}} {
		_, err := s.GetTrustedDevice(ctx, tc.id)
		wantErr(t, "GetTrustedDevice "+tc.name, err, store.ErrNotFound)
	}
	dup := dev(i.ID, base)
	dup.ID = a.ID
	wantErr(t, "CreateTrustedDevice with an existing id", s.CreateTrustedDevice(ctx, dup, 3), store.ErrConflict)
	wantErr(t, "CreateTrustedDevice for an unknown identity", s.CreateTrustedDevice(ctx, dev(newID(), base), 3), store.ErrNotFound)

	// Devices that expired before a new one is created go; beyond the cap
	// the oldest go; another identity's devices stay.
	o := dev(other.ID, base)
	wantErr(t, "CreateTrustedDevice other", s.CreateTrustedDevice(ctx, o, 1), nil)
	var kept []*store.TrustedDevice
	for n := 1; n <= 4; n++ {
		d := dev(i.ID, base.Add(time.Duration(n)*time.Minute))
		wantErr(t, "CreateTrustedDevice", s.CreateTrustedDevice(ctx, d, 3), nil)
		kept = append(kept, d)
	}
	for _, gone := range []*store.TrustedDevice{a, kept[0]} {
		_, err := s.GetTrustedDevice(ctx, gone.ID)
		wantErr(t, "GetTrustedDevice beyond the cap", err, store.ErrNotFound)
	}
	for _, d := range append(kept[1:], o) {
		_, err := s.GetTrustedDevice(ctx, d.ID)
		wantErr(t, "GetTrustedDevice within the cap", err, nil)
	}
	late := dev(i.ID, base.Add(2*time.Hour)) // the others expired an hour after their creation
	wantErr(t, "CreateTrustedDevice after expiry", s.CreateTrustedDevice(ctx, late, 3), nil)
	for _, d := range kept[1:] {
		_, err := s.GetTrustedDevice(ctx, d.ID)
		wantErr(t, "GetTrustedDevice expired", err, store.ErrNotFound)
	}

	// Deleting the identity deletes its devices.
	wantErr(t, "DeleteIdentity", s.DeleteIdentity(ctx, i.ID), nil)
	_, err = s.GetTrustedDevice(ctx, late.ID)
	wantErr(t, "GetTrustedDevice of a deleted identity", err, store.ErrNotFound)
}
