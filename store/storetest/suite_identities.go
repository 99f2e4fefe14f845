package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

func testIdentityUniqueness(t *testing.T, s store.Store) {
	ctx := context.Background()
	taken := identity(email())
	taken.ExternalID = "ext-" + newID()
	mustCreate(t, s, taken)
	takenAddr := taken.Addresses[0].Value

	tests := []struct {
		name   string
		modify func(i *core.Identity)
		want   error
	}{
		{"identifier taken", func(i *core.Identity) {
			c := i.Credentials[core.CredentialPassword]
			c.Identifiers = []string{takenAddr}
			i.SetCredential(c)
		}, store.ErrConflict},
		{"address taken", func(i *core.Identity) { i.Addresses[0].Value = takenAddr }, store.ErrConflict},
		{"external id taken", func(i *core.Identity) { i.ExternalID = taken.ExternalID }, store.ErrConflict},
		{"identity id taken", func(i *core.Identity) { i.ID = taken.ID }, store.ErrConflict},
		{"same identifier, other credential type", func(i *core.Identity) {
			i.SetCredential(core.Credential{ID: newID(), Type: core.CredentialCode, Identifiers: []string{takenAddr}})
		}, nil},
		{"same value, other channel", func(i *core.Identity) {
			i.Addresses = append(i.Addresses, core.Address{ID: newID(), Via: core.ViaSMS, Value: takenAddr})
		}, nil},
		{"identifier differs in case only", func(i *core.Identity) {
			c := i.Credentials[core.CredentialPassword]
			c.Identifiers = []string{strings.ToUpper(takenAddr)}
			i.SetCredential(c)
		}, nil},
		{"identifier with trailing space", func(i *core.Identity) {
			c := i.Credentials[core.CredentialPassword]
			c.Identifiers = []string{takenAddr + " "}
			i.SetCredential(c)
		}, nil},
		{"duplicate identifier inside one credential", func(i *core.Identity) {
			c := i.Credentials[core.CredentialPassword]
			c.Identifiers = append(c.Identifiers, c.Identifiers[0])
			i.SetCredential(c)
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := identity(email())
			tc.modify(i)
			err := s.CreateIdentity(ctx, i)
			wantErr(t, "CreateIdentity", err, tc.want)
			if tc.want != nil {
				// Nothing of the failed identity was written.
				if i.ID != taken.ID {
					_, err := s.GetIdentity(ctx, i.ID)
					wantErr(t, "GetIdentity of failed create", err, store.ErrNotFound)
				}
				got, err := s.FindIdentityByIdentifier(ctx, core.CredentialPassword, takenAddr)
				wantErr(t, "taken identifier", err, nil)
				if got.ID != taken.ID {
					t.Fatalf("taken identifier now belongs to %s", got.ID)
				}
			}
		})
	}
}

func testIdentifierRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 32
	shared := email()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := identity(email())
			c := i.Credentials[core.CredentialPassword]
			c.Identifiers = []string{shared}
			i.SetCredential(c)
			errs[k] = s.CreateIdentity(ctx, i)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("CreateIdentity: %v, want nil or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creators won, want exactly 1", won)
	}
	if n, err := s.CountIdentities(ctx, store.IdentityQuery{}); err != nil || n != 1 {
		t.Fatalf("CountIdentities = %d, %v; want 1", n, err)
	}
}

func testUpdateIdentityConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := identity(email())
	a.ExternalID = "ext-a-" + newID()
	b := identity(email())
	mustCreate(t, s, a)
	mustCreate(t, s, b)

	tests := []struct {
		name   string
		modify func(i *core.Identity)
	}{
		{"takes a's identifier", func(i *core.Identity) {
			c := i.Credentials[core.CredentialPassword]
			c.Identifiers = []string{"fresh-" + newID(), a.Addresses[0].Value}
			i.SetCredential(c)
		}},
		{"takes a's address", func(i *core.Identity) {
			i.Addresses = append(i.Addresses, core.Address{ID: newID(), Via: core.ViaEmail, Value: a.Addresses[0].Value})
		}},
		{"takes a's external id", func(i *core.Identity) { i.ExternalID = a.ExternalID }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := normIdentity(b)
			u.Traits = json.RawMessage(`{"changed":true}`)
			u.Addresses = []core.Address{{ID: newID(), Via: core.ViaEmail, Value: email()}}
			tc.modify(u)
			wantErr(t, "UpdateIdentity", s.UpdateIdentity(ctx, u), store.ErrConflict)
			got, err := s.GetIdentity(ctx, b.ID)
			wantErr(t, "GetIdentity", err, nil)
			sameIdentity(t, got, b) // unchanged: nothing half-written
			got, err = s.FindIdentityByIdentifier(ctx, core.CredentialPassword, a.Addresses[0].Value)
			if err != nil || got.ID != a.ID {
				t.Fatalf("a's identifier: %v", err)
			}
		})
	}
}

func testDeleteIdentityCascades(t *testing.T, s store.Store) {
	ctx := context.Background()
	i := identity(email())
	other := identity(email())
	mustCreate(t, s, i)
	mustCreate(t, s, other)
	var hashes [][]byte
	for _, owner := range []string{i.ID, i.ID, other.ID} {
		sess := session(owner, base)
		hashes = append(hashes, sess.TokenHash)
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	wantErr(t, "DeleteIdentity", s.DeleteIdentity(ctx, i.ID), nil)
	for k, h := range hashes[:2] {
		_, err := s.GetSessionByTokenHash(ctx, h)
		wantErr(t, "session of deleted identity "+string(rune('0'+k)), err, store.ErrNotFound)
	}
	if _, err := s.GetSessionByTokenHash(ctx, hashes[2]); err != nil {
		t.Fatalf("other identity's session: %v", err)
	}
	_, err := s.FindIdentityByAddress(ctx, core.ViaEmail, i.Addresses[0].Value)
	wantErr(t, "address of deleted identity", err, store.ErrNotFound)
}

func testListIdentities(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newID()
	var all []*core.Identity
	for k := range 7 {
		i := identity(email())
		if k%2 == 0 {
			i.OrganizationID = org
		}
		c := i.Credentials[core.CredentialPassword]
		switch k {
		case 0:
			c.Identifiers = append(c.Identifiers, "al%ce_1")
		case 1:
			c.Identifiers = append(c.Identifiers, "alice_2")
		case 2:
			c.Identifiers = append(c.Identifiers, "Alice3")
		case 3:
			c.Identifiers = append(c.Identifiers, "al*ce?[4]")
		}
		i.SetCredential(c)
		if k == 4 {
			i.SetCredential(core.Credential{ID: newID(), Type: core.CredentialCode, Identifiers: []string{"alice_code"}})
		}
		mustCreate(t, s, i)
		all = append(all, i)
	}
	byID := slices.Clone(all)
	slices.SortFunc(byID, func(a, b *core.Identity) int { return strings.Compare(a.ID, b.ID) })
	ids := func(list []*core.Identity) []string {
		var out []string
		for _, i := range list {
			out = append(out, i.ID)
		}
		return out
	}
	sorted := ids(byID)
	pick := func(ks ...int) []string {
		var out []string
		for _, k := range ks {
			out = append(out, all[k].ID)
		}
		slices.Sort(out)
		return out
	}

	tests := []struct {
		name string
		q    store.IdentityQuery
		want []string
	}{
		{"all", store.IdentityQuery{}, sorted},
		{"limit", store.IdentityQuery{Limit: 3}, sorted[:3]},
		{"after id", store.IdentityQuery{AfterID: sorted[2], Limit: 3}, sorted[3:6]},
		{"after last", store.IdentityQuery{AfterID: sorted[6]}, nil},
		{"offset", store.IdentityQuery{Offset: 5}, sorted[5:]},
		{"offset and limit", store.IdentityQuery{Offset: 2, Limit: 2}, sorted[2:4]},
		{"cursor wins over offset", store.IdentityQuery{AfterID: sorted[0], Offset: 4, Limit: 1}, sorted[1:2]},
		{"ids", store.IdentityQuery{IDs: []string{all[3].ID, all[1].ID, newID()}}, pick(1, 3)},
		{"organization", store.IdentityQuery{OrganizationID: org}, pick(0, 2, 4, 6)},
		{"exact identifier", store.IdentityQuery{CredentialIdentifier: all[5].Addresses[0].Value}, pick(5)},
		{"exact identifier, any type", store.IdentityQuery{CredentialIdentifier: "alice_code"}, pick(4)},
		{"exact identifier, wrong type", store.IdentityQuery{CredentialIdentifier: "alice_code", CredentialType: core.CredentialPassword}, nil},
		{"prefix", store.IdentityQuery{IdentifierPrefix: "ali"}, pick(1, 4)},
		{"prefix is case sensitive", store.IdentityQuery{IdentifierPrefix: "Ali"}, pick(2)},
		{"prefix with LIKE wildcards", store.IdentityQuery{IdentifierPrefix: "al%"}, pick(0)},
		{"prefix underscore is literal", store.IdentityQuery{IdentifierPrefix: "alice_"}, pick(1, 4)},
		{"prefix with GLOB wildcards", store.IdentityQuery{IdentifierPrefix: "al*ce?["}, pick(3)},
		{"prefix of one type", store.IdentityQuery{IdentifierPrefix: "alice", CredentialType: core.CredentialCode}, pick(4)},
		{"prefix and organization", store.IdentityQuery{IdentifierPrefix: "al", OrganizationID: org}, pick(0, 4)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, err := s.ListIdentities(ctx, tc.q)
			wantErr(t, "ListIdentities", err, nil)
			var got []string
			for _, i := range list {
				got = append(got, i.ID)
				if len(i.Addresses) != 1 {
					t.Errorf("identity %s: %d addresses, want 1 (always loaded)", i.ID, len(i.Addresses))
				}
				if len(i.Credentials) != 0 {
					t.Errorf("identity %s: credentials loaded without WithCredentials", i.ID)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ids = %v\nwant %v", got, tc.want)
			}
			n, err := s.CountIdentities(ctx, tc.q)
			wantErr(t, "CountIdentities", err, nil)
			if tc.q.Limit == 0 && tc.q.Offset == 0 && tc.q.AfterID == "" && n != len(tc.want) {
				t.Fatalf("CountIdentities = %d, want %d", n, len(tc.want))
			}
		})
	}

	list, err := s.ListIdentities(ctx, store.IdentityQuery{IDs: []string{all[4].ID}, WithCredentials: true})
	wantErr(t, "ListIdentities WithCredentials", err, nil)
	if len(list) != 1 {
		t.Fatalf("got %d identities", len(list))
	}
	sameIdentity(t, &list[0], all[4])
}

func testIdentityContent(t *testing.T, s store.Store) {
	ctx := context.Background()
	big := strings.Repeat("x", 1<<20+17)
	tests := []struct {
		name       string
		traits     string
		identifier string
	}{
		{"large traits", `{"email":"big@example.com","bio":"` + big + `"}`, "big-" + newID()},
		{"unicode", `{"name":"Zoë Ñandú 山田太郎 🦊","email":"zoë@exämple.com"}`, "zoë-山田-🦊-" + newID()},
		{"json spacing kept", "{\n  \"b\": 1,\n  \"a\": [ 1, 2 ]\n}", "spacing-" + newID()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := identity(email())
			i.Traits = json.RawMessage(tc.traits)
			c := i.Credentials[core.CredentialPassword]
			c.Identifiers = []string{tc.identifier}
			i.SetCredential(c)
			mustCreate(t, s, i)
			got, err := s.FindIdentityByIdentifier(ctx, core.CredentialPassword, tc.identifier)
			wantErr(t, "FindIdentityByIdentifier", err, nil)
			if string(got.Traits) != tc.traits {
				t.Fatalf("traits changed: got %d bytes, want %d", len(got.Traits), len(tc.traits))
			}
			sameIdentity(t, got, i)
		})
	}
}

// testIdentityCredentialsLoad checks how credentials come back with their
// identifiers: several per credential (sorted), none at all, and several
// identities loaded at once; and an identity with neither credentials nor
// addresses.
func testIdentityCredentialsLoad(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := identity(email())
	a.SetCredential(core.Credential{ID: newID(), Type: core.CredentialCode,
		Identifiers: []string{"c-" + newID(), "a-" + newID(), "b-" + newID()},
		Config:      json.RawMessage(`{"addresses":[]}`), Version: 2, CreatedAt: base, UpdatedAt: base})
	a.SetCredential(core.Credential{ID: newID(), Type: core.CredentialTOTP,
		Config: json.RawMessage(`{"totp_url":"otpauth://x"}`), CreatedAt: base, UpdatedAt: base})
	b := identity(email())
	b.Credentials = nil
	b.SetCredential(core.Credential{ID: newID(), Type: core.CredentialTOTP,
		Config: json.RawMessage(`{"totp_url":"otpauth://y"}`), CreatedAt: base, UpdatedAt: base})
	c := identity(email())
	c.Credentials = nil
	c.Addresses = nil
	for _, i := range []*core.Identity{a, b, c} {
		mustCreate(t, s, i)
		got, err := s.GetIdentity(ctx, i.ID)
		wantErr(t, "GetIdentity", err, nil)
		sameIdentity(t, got, i)
	}
	list, err := s.ListIdentities(ctx, store.IdentityQuery{IDs: []string{a.ID, b.ID, c.ID}, WithCredentials: true})
	wantErr(t, "ListIdentities", err, nil)
	if len(list) != 3 {
		t.Fatalf("ListIdentities: %d identities, want 3", len(list))
	}
	for _, want := range []*core.Identity{a, b, c} {
		k := slices.IndexFunc(list, func(i core.Identity) bool { return i.ID == want.ID })
		if k < 0 {
			t.Fatalf("ListIdentities: %s missing", want.ID)
		}
		sameIdentity(t, &list[k], want)
	}
	// One id: the identity and its addresses, credentials only when asked.
	noCreds := *a
	noCreds.Credentials = nil
	for _, tc := range []struct {
		name string
		q    store.IdentityQuery
		want []*core.Identity
	}{
		{"one id", store.IdentityQuery{IDs: []string{a.ID}}, []*core.Identity{&noCreds}},
		{"one id with credentials", store.IdentityQuery{IDs: []string{a.ID}, WithCredentials: true}, []*core.Identity{a}},
		{"one id with a limit", store.IdentityQuery{IDs: []string{a.ID}, Limit: 1}, []*core.Identity{&noCreds}},
		{"one id past the offset", store.IdentityQuery{IDs: []string{a.ID}, Offset: 1}, nil},
		{"one id, other organization", store.IdentityQuery{IDs: []string{a.ID}, OrganizationID: newID()}, nil},
		{"one id, other identifier", store.IdentityQuery{IDs: []string{a.ID}, CredentialIdentifier: "nobody"}, nil},
		{"one unknown id", store.IdentityQuery{IDs: []string{newID()}}, nil},
	} {
		list, err := s.ListIdentities(ctx, tc.q)
		wantErr(t, tc.name, err, nil)
		if len(list) != len(tc.want) {
			t.Fatalf("%s: %d identities, want %d", tc.name, len(list), len(tc.want))
		}
		for k := range list {
			sameIdentity(t, &list[k], tc.want[k])
		}
	}
}
