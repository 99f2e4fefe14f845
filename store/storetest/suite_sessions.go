package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// session returns an active session of the identity created at created.
func session(identityID string, created time.Time) *core.Session {
	return &core.Session{
		ID: newID(), IdentityID: identityID, TokenHash: token(), Active: true, AAL: core.AAL1,
		Methods:  []core.AuthMethod{{Method: "password", AAL: core.AAL1, CompletedAt: created}},
		Devices:  []core.Device{{ID: newID(), IPAddress: "192.0.2.1", UserAgent: "Mozilla/5.0 (Zoë)"}},
		IssuedAt: created, AuthenticatedAt: created, ExpiresAt: created.Add(24 * time.Hour),
		CreatedAt: created, UpdatedAt: created,
	}
}

// normSession returns s as the store returns it.
func normSession(s *core.Session) *core.Session {
	c := *s
	c.IssuedAt, c.AuthenticatedAt, c.ExpiresAt = utc(c.IssuedAt), utc(c.AuthenticatedAt), utc(c.ExpiresAt)
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	c.Methods = slices.Clone(c.Methods)
	for k := range c.Methods {
		c.Methods[k].CompletedAt = utc(c.Methods[k].CompletedAt)
	}
	return &c
}

func sameSession(t *testing.T, got, want *core.Session) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(normSession(want))
	if string(g) != string(w) {
		t.Fatalf("session differs:\n got %s\nwant %s", g, w)
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	i := identity(email())
	mustCreate(t, s, i)
	sess := session(i.ID, base)
	sess.LogoutTokenHash = token()
	wantErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)

	dup := session(i.ID, base)
	dup.TokenHash = sess.TokenHash
	wantErr(t, "CreateSession with taken token hash", s.CreateSession(ctx, dup), store.ErrConflict)
	dupID := session(i.ID, base)
	dupID.ID = sess.ID
	wantErr(t, "CreateSession with taken id", s.CreateSession(ctx, dupID), store.ErrConflict)

	for name, fn := range map[string]func() (*core.Session, error){
		"GetSession":                  func() (*core.Session, error) { return s.GetSession(ctx, sess.ID) },
		"GetSessionByTokenHash":       func() (*core.Session, error) { return s.GetSessionByTokenHash(ctx, sess.TokenHash) },
		"GetSessionByLogoutTokenHash": func() (*core.Session, error) { return s.GetSessionByLogoutTokenHash(ctx, sess.LogoutTokenHash) },
	} {
		got, err := fn()
		wantErr(t, name, err, nil)
		sameSession(t, got, sess)
	}
	for name, fn := range map[string]func() (*core.Session, error){
		"GetSession":                  func() (*core.Session, error) { return s.GetSession(ctx, newID()) },
		"GetSessionByTokenHash":       func() (*core.Session, error) { return s.GetSessionByTokenHash(ctx, token()) },
		"GetSessionByTokenHash nil":   func() (*core.Session, error) { return s.GetSessionByTokenHash(ctx, nil) },
		"GetSessionByLogoutTokenHash": func() (*core.Session, error) { return s.GetSessionByLogoutTokenHash(ctx, nil) },
	} {
		_, err := fn()
		wantErr(t, name+" missing", err, store.ErrNotFound)
	}

	sess.AAL = core.AAL2
	sess.Methods = append(sess.Methods, core.AuthMethod{Method: "totp", AAL: core.AAL2, CompletedAt: base.Add(time.Minute)})
	sess.Devices = nil
	sess.LogoutTokenHash = nil
	sess.ExpiresAt = base.Add(48 * time.Hour)
	wantErr(t, "UpdateSession", s.UpdateSession(ctx, sess), nil)
	wantErr(t, "UpdateSession unchanged", s.UpdateSession(ctx, sess), nil)
	got, err := s.GetSession(ctx, sess.ID)
	wantErr(t, "GetSession after update", err, nil)
	want := *sess
	want.Devices = []core.Device{}
	if len(got.Devices) != 0 {
		t.Fatalf("devices = %v, want none", got.Devices)
	}
	got.Devices = want.Devices
	sameSession(t, got, &want)
	missing := session(i.ID, base)
	wantErr(t, "UpdateSession missing", s.UpdateSession(ctx, missing), store.ErrNotFound)

	// Revocation.
	second, third := session(i.ID, base), session(i.ID, base)
	for _, x := range []*core.Session{second, third} {
		wantErr(t, "CreateSession", s.CreateSession(ctx, x), nil)
	}
	n, err := s.RevokeSessions(ctx, i.ID, sess.ID)
	if err != nil || n != 2 {
		t.Fatalf("RevokeSessions = %d, %v; want 2", n, err)
	}
	n, err = s.RevokeSessions(ctx, i.ID, sess.ID)
	if err != nil || n != 0 {
		t.Fatalf("RevokeSessions again = %d, %v; want 0", n, err)
	}
	if got, _ := s.GetSession(ctx, sess.ID); got == nil || !got.Active {
		t.Fatal("excepted session was revoked")
	}
	if got, _ := s.GetSession(ctx, second.ID); got == nil || got.Active {
		t.Fatal("session was not revoked")
	}
	n, err = s.RevokeSessions(ctx, i.ID, "")
	if err != nil || n != 1 {
		t.Fatalf("RevokeSessions all = %d, %v; want 1", n, err)
	}

	wantErr(t, "DeleteSession", s.DeleteSession(ctx, second.ID), nil)
	wantErr(t, "DeleteSession again", s.DeleteSession(ctx, second.ID), store.ErrNotFound)
	n, err = s.DeleteIdentitySessions(ctx, i.ID)
	if err != nil || n != 2 {
		t.Fatalf("DeleteIdentitySessions = %d, %v; want 2", n, err)
	}
	if _, err := s.GetSessionByTokenHash(ctx, sess.TokenHash); err == nil {
		t.Fatal("session survived DeleteIdentitySessions")
	}
}

func testListSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	i, other := identity(email()), identity(email())
	mustCreate(t, s, i)
	mustCreate(t, s, other)
	now := base.Add(time.Hour)
	// Six sessions of i, three pairs created at the same instant (ties are
	// broken by id), plus one of another identity.
	var all []*core.Session
	for k := range 6 {
		x := session(i.ID, base.Add(time.Duration(k/2)*time.Minute))
		switch k {
		case 1:
			x.Active = false
		case 4:
			x.ExpiresAt = base // expired at now
		}
		all = append(all, x)
		wantErr(t, "CreateSession", s.CreateSession(ctx, x), nil)
	}
	wantErr(t, "CreateSession", s.CreateSession(ctx, session(other.ID, base)), nil)
	ordered := slices.Clone(all)
	slices.SortFunc(ordered, func(a, b *core.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		if a.ID > b.ID {
			return -1
		}
		return 1
	})
	ids := func(list []*core.Session) []string {
		var out []string
		for _, x := range list {
			out = append(out, x.ID)
		}
		return out
	}
	want := ids(ordered)
	filter := func(keep func(*core.Session) bool) []string {
		var out []*core.Session
		for _, x := range ordered {
			if keep(x) {
				out = append(out, x)
			}
		}
		return ids(out)
	}
	yes, no := true, false
	tests := []struct {
		name string
		q    store.SessionQuery
		want []string
	}{
		{"all of identity", store.SessionQuery{IdentityID: i.ID}, want},
		{"limit", store.SessionQuery{IdentityID: i.ID, Limit: 3}, want[:3]},
		{"offset", store.SessionQuery{IdentityID: i.ID, Offset: 4}, want[4:]},
		{"cursor inside a tie", store.SessionQuery{IdentityID: i.ID, BeforeCreatedAt: ordered[2].CreatedAt, BeforeID: ordered[2].ID, Limit: 2}, want[3:5]},
		{"cursor at a tie's first", store.SessionQuery{IdentityID: i.ID, BeforeCreatedAt: ordered[1].CreatedAt, BeforeID: ordered[1].ID}, want[2:]},
		{"except", store.SessionQuery{IdentityID: i.ID, ExceptID: ordered[0].ID}, want[1:]},
		{"active", store.SessionQuery{IdentityID: i.ID, Active: &yes, Now: now}, filter(func(x *core.Session) bool { return x.Usable(now) })},
		{"inactive", store.SessionQuery{IdentityID: i.ID, Active: &no, Now: now}, filter(func(x *core.Session) bool { return !x.Usable(now) })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, err := s.ListSessions(ctx, tc.q)
			wantErr(t, "ListSessions", err, nil)
			var got []string
			for _, x := range list {
				got = append(got, x.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ids = %v\nwant %v", got, tc.want)
			}
			if tc.q.Limit == 0 && tc.q.Offset == 0 && tc.q.BeforeID == "" {
				n, err := s.CountSessions(ctx, tc.q)
				if err != nil || n != len(tc.want) {
					t.Fatalf("CountSessions = %d, %v; want %d", n, err, len(tc.want))
				}
			}
		})
	}
	if n, err := s.CountSessions(ctx, store.SessionQuery{}); err != nil || n != 7 {
		t.Fatalf("CountSessions all = %d, %v; want 7", n, err)
	}
}

func testTimes(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Nanoseconds that round up if a database rounds instead of truncating.
	at := time.Date(2031, 12, 31, 23, 59, 59, 999999999, time.FixedZone("UTC-8", -8*3600))
	i := identity(email())
	i.CreatedAt, i.UpdatedAt, i.StateChangedAt = at, at, time.Time{}
	mustCreate(t, s, i)
	got, err := s.GetIdentity(ctx, i.ID)
	wantErr(t, "GetIdentity", err, nil)
	want := at.UTC().Truncate(time.Microsecond)
	if got.CreatedAt.Location() != time.UTC || !got.CreatedAt.Equal(want) || got.CreatedAt != want {
		t.Fatalf("CreatedAt = %v (%v), want %v in UTC", got.CreatedAt, got.CreatedAt.Location(), want)
	}
	if !got.StateChangedAt.IsZero() {
		t.Fatalf("zero StateChangedAt came back as %v", got.StateChangedAt)
	}
	if got.Addresses[0].VerifiedAt != nil {
		t.Fatalf("nil VerifiedAt came back as %v", got.Addresses[0].VerifiedAt)
	}
	if got.MetadataAdmin != nil {
		t.Fatalf("nil metadata came back as %q", got.MetadataAdmin)
	}
}

// testSessionWithIdentity checks the session check's one-statement load:
// the session and its identity with every address (in creation order,
// times normalised), no credentials, for an identity with two addresses
// and one with none; inside a transaction too; unknown tokens and ids,
// malformed ids and empty hashes are ErrNotFound. GetSessionProfile adds
// the credentials (two, one with two identifiers) and the WebAuthn
// credentials, as ListWebAuthnCredentials lists them.
func testSessionWithIdentity(t *testing.T, s store.Store) {
	ctx := context.Background()
	i := identity(email())
	verified := base.Add(time.Minute)
	i.Addresses = append(i.Addresses, core.Address{ID: newID(), IdentityID: i.ID, Via: core.ViaSMS, Value: "+4915112345678",
		Status: core.AddressCompleted, Verified: true, VerifiedAt: &verified,
		CreatedAt: base.Add(time.Second), UpdatedAt: base.Add(time.Second)})
	i.SetCredential(core.Credential{ID: newID(), Type: core.CredentialCode,
		Identifiers: []string{"z-" + email(), "+4915112345678-" + i.ID[:8]},
		Config:      json.RawMessage(`{"addresses":[{"channel":"sms"}]}`), Version: 2,
		CreatedAt: base.Add(2 * time.Second), UpdatedAt: base.Add(3 * time.Second)})
	mustCreate(t, s, i)
	// Created newest first, to be listed oldest first; one with no AAGUID
	// and no transports, one used.
	used := base.Add(time.Hour)
	wa := []*core.WebAuthnCredential{webauthnCredential(i.ID, base.Add(2*time.Second)), webauthnCredential(i.ID, base)}
	wa[0].LastUsedAt, wa[0].MFAOnly, wa[0].CloneWarning = &used, true, true
	wa[1].AAGUID, wa[1].Transports = nil, nil
	for _, c := range wa {
		wantErr(t, "CreateWebAuthnCredential", s.CreateWebAuthnCredential(ctx, c), nil)
	}
	bare := identity(email())
	bare.Addresses = nil
	mustCreate(t, s, bare)
	noCreds := func(i *core.Identity) *core.Identity {
		c := *i
		c.Credentials = nil
		return &c
	}
	for _, owner := range []*core.Identity{i, bare} {
		sess := session(owner.ID, base)
		sess.LogoutTokenHash = token()
		wantErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
		check := func(what string, got *core.Session, gotI *core.Identity, err error) {
			t.Helper()
			wantErr(t, what, err, nil)
			sameSession(t, got, sess)
			sameIdentity(t, gotI, noCreds(owner))
		}
		got, gotI, err := s.GetSessionWithIdentityByTokenHash(ctx, sess.TokenHash)
		check("GetSessionWithIdentityByTokenHash", got, gotI, err)
		got, gotI, err = s.GetSessionWithIdentity(ctx, sess.ID, false)
		check("GetSessionWithIdentity", got, gotI, err)
		got, gotI, err = s.GetSessionWithIdentity(ctx, sess.ID, true)
		wantErr(t, "GetSessionWithIdentity with credentials", err, nil)
		sameSession(t, got, sess)
		sameIdentity(t, gotI, owner)
		got, gotI, err = s.GetSessionWithCredentialsByTokenHash(ctx, sess.TokenHash)
		wantErr(t, "GetSessionWithCredentialsByTokenHash", err, nil)
		sameSession(t, got, sess)
		sameIdentity(t, gotI, owner)
		wantWA, err := s.ListWebAuthnCredentials(ctx, owner.ID)
		wantErr(t, "ListWebAuthnCredentials", err, nil)
		if owner == i && len(wantWA) != 2 {
			t.Fatalf("ListWebAuthnCredentials = %d credentials, want 2", len(wantWA))
		}
		profile := func(what string, got *core.Session, gotI *core.Identity, gotWA []core.WebAuthnCredential, err error) {
			t.Helper()
			wantErr(t, what, err, nil)
			sameSession(t, got, sess)
			sameIdentity(t, gotI, owner)
			if gotWA == nil || len(gotWA) != len(wantWA) {
				t.Fatalf("%s: %d WebAuthn credentials (nil: %t), want %d", what, len(gotWA), gotWA == nil, len(wantWA))
			}
			for k := range wantWA {
				if !reflect.DeepEqual(gotWA[k], wantWA[k]) {
					t.Fatalf("%s: WebAuthn credential %d:\n got %+v\nwant %+v", what, k, gotWA[k], wantWA[k])
				}
			}
		}
		got, gotI, gotWA, err := s.GetSessionProfile(ctx, sess.ID)
		profile("GetSessionProfile", got, gotI, gotWA, err)
		err = s.Update(ctx, func(tx store.Tx) error {
			got, gotI, gotWA, err := tx.GetSessionProfile(ctx, sess.ID)
			profile("GetSessionProfile in a transaction", got, gotI, gotWA, err)
			got, gotI, err = tx.GetSessionWithIdentityByTokenHash(ctx, sess.TokenHash)
			check("GetSessionWithIdentityByTokenHash in a transaction", got, gotI, err)
			got, gotI, err = tx.GetSessionWithIdentity(ctx, sess.ID, false)
			check("GetSessionWithIdentity in a transaction", got, gotI, err)
			got, gotI, err = tx.GetSessionWithCredentialsByTokenHash(ctx, sess.TokenHash)
			wantErr(t, "GetSessionWithCredentialsByTokenHash in a transaction", err, nil)
			sameSession(t, got, sess)
			sameIdentity(t, gotI, owner)
			return nil
		})
		wantErr(t, "Update", err, nil)
	}
	for name, fn := range map[string]func() error{
		"by unknown token hash": func() error { _, _, err := s.GetSessionWithIdentityByTokenHash(ctx, token()); return err },
		"by nil token hash":     func() error { _, _, err := s.GetSessionWithIdentityByTokenHash(ctx, nil); return err },
		"with credentials by unknown token hash": func() error {
			_, _, err := s.GetSessionWithCredentialsByTokenHash(ctx, token())
			return err
		},
		"with credentials by nil token hash": func() error { _, _, err := s.GetSessionWithCredentialsByTokenHash(ctx, nil); return err },
		"by unknown id":                      func() error { _, _, err := s.GetSessionWithIdentity(ctx, newID(), true); return err },
		"by malformed id":                    func() error { _, _, err := s.GetSessionWithIdentity(ctx, "not-an-id'", false); return err },
		"profile by unknown id":              func() error { _, _, _, err := s.GetSessionProfile(ctx, newID()); return err },
		"profile by malformed id": func() error {
			_, _, _, err := s.GetSessionProfile(ctx, "not-an-id'")
			return err
		},
	} {
		wantErr(t, "GetSessionWithIdentity "+name, fn(), store.ErrNotFound)
	}
}

// testSessionMethodsIf: UpdateSessionMethodsIf steps a session up when it
// is as its caller read it (active, updated_at unchanged), leaving its
// other columns (devices, expiry) as stored, and refuses one updated,
// revoked or deleted since.
func testSessionMethodsIf(t *testing.T, s store.Store) {
	ctx := context.Background()
	i := identity(email())
	mustCreate(t, s, i)
	sess := session(i.ID, base)
	wantErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
	read, err := s.GetSession(ctx, sess.ID)
	wantErr(t, "GetSession", err, nil)

	// Another writer extends the session: the expiry is not the caller's
	// to write, and the update it made is seen.
	extended := *read
	extended.ExpiresAt, extended.UpdatedAt = base.Add(48*time.Hour), base.Add(time.Second)
	wantErr(t, "UpdateSession", s.UpdateSession(ctx, &extended), nil)
	up := *read
	up.Methods = append(slices.Clip(up.Methods), core.AuthMethod{Method: "totp", AAL: core.AAL2, CompletedAt: base.Add(2 * time.Second)})
	up.AAL, up.AuthenticatedAt, up.UpdatedAt = core.AAL2, base.Add(2*time.Second), base.Add(2*time.Second)
	if ok, err := s.UpdateSessionMethodsIf(ctx, &up, read.UpdatedAt); err != nil || ok {
		t.Fatalf("UpdateSessionMethodsIf of a session updated since = %v, %v; want false", ok, err)
	}
	if ok, err := s.UpdateSessionMethodsIf(ctx, &up, extended.UpdatedAt); err != nil || !ok {
		t.Fatalf("UpdateSessionMethodsIf = %v, %v; want true", ok, err)
	}
	got, err := s.GetSession(ctx, sess.ID)
	wantErr(t, "GetSession", err, nil)
	if got.AAL != core.AAL2 || len(got.Methods) != 2 || got.Methods[1].Method != "totp" ||
		!got.AuthenticatedAt.Equal(utc(up.AuthenticatedAt)) || !got.UpdatedAt.Equal(utc(up.UpdatedAt)) {
		t.Fatalf("after the step-up: aal %s, methods %v, authenticated %v, updated %v", got.AAL, got.Methods, got.AuthenticatedAt, got.UpdatedAt)
	}
	if !got.ExpiresAt.Equal(utc(extended.ExpiresAt)) || len(got.Devices) != 1 || !got.Active {
		t.Fatalf("the step-up changed other columns: expires %v, devices %v, active %v", got.ExpiresAt, got.Devices, got.Active)
	}

	// A revoked session is not stepped up, even as last read.
	got.Active = false // updated_at kept: only active differs
	wantErr(t, "UpdateSession", s.UpdateSession(ctx, got), nil)
	if ok, err := s.UpdateSessionMethodsIf(ctx, &up, up.UpdatedAt); err != nil || ok {
		t.Fatalf("UpdateSessionMethodsIf of a revoked session = %v, %v; want false", ok, err)
	}
	wantErr(t, "DeleteSession", s.DeleteSession(ctx, sess.ID), nil)
	if ok, err := s.UpdateSessionMethodsIf(ctx, &up, up.UpdatedAt); err != nil || ok {
		t.Fatalf("UpdateSessionMethodsIf of a deleted session = %v, %v; want false", ok, err)
	}
}
