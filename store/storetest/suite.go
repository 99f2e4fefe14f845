package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// Run runs the conformance suite against the backend open returns. open is
// called once per group of tests and must return an empty, migrated store
// that is closed when its t ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	// Heavy concurrency tests run first, one at a time, so that they do not
	// exhaust the server's connections; the rest run in parallel.
	t.Run("IdentifierUniqueUnderConcurrency", func(t *testing.T) { testIdentifierRace(t, open(t)) })
	t.Run("FlowOptimisticLockUnderConcurrency", func(t *testing.T) { testFlowRace(t, open(t)) })
	t.Run("ClaimMessagesExactlyOnce", func(t *testing.T) { testClaimRace(t, open(t)) })
	t.Run("ClaimWebhookDeliveriesExactlyOnce", func(t *testing.T) { testClaimDeliveriesRace(t, open(t)) })
	t.Run("CounterHitUnderConcurrency", func(t *testing.T) { testCounterRace(t, open(t)) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, open(t)) })

	parallel := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"IdentityCRUD", testIdentityCRUD},
		{"IdentityUniqueness", testIdentityUniqueness},
		{"UpdateIdentityConflictWritesNothing", testUpdateIdentityConflict},
		{"DeleteIdentityCascades", testDeleteIdentityCascades},
		{"ListIdentities", testListIdentities},
		{"IdentityContent", testIdentityContent},
		{"IdentityCredentialsLoad", testIdentityCredentialsLoad},
		{"Times", testTimes},
		{"Sessions", testSessions},
		{"SessionMethodsIf", testSessionMethodsIf},
		{"SessionWithIdentity", testSessionWithIdentity},
		{"ListSessions", testListSessions},
		{"Flows", testFlows},
		{"UpdateRollsBack", testUpdateRollback},
		{"Messages", testMessages},
		{"ClaimMessages", testClaimMessages},
		{"ClaimBesideOpenClaim", testClaimBesideOpenClaim},
		{"ClaimDeliveriesBesideOpenClaim", testClaimDeliveriesBesideOpenClaim},
		{"Keys", testKeys},
		{"Counters", testCounters},
		{"AuditLogs", testAuditLogs},
		{"AuditLogInTx", testAuditLogInTx},
		{"Webhooks", testWebhooks},
		{"WebhookDeliveries", testWebhookDeliveries},
		{"MalformedIDs", testMalformedIDs},
		{"WebAuthnCredentials", testWebAuthnCredentials},
		{"TrustedDevices", testTrustedDevices},
		{"Maintenance", testMaintenance},
		{"SessionChanges", testSessionChanges},
	}
	for _, tc := range parallel {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// base is the suite's reference time: not UTC and with nanoseconds, so that
// every test also checks normalisation.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))

// utc is what the store returns for t.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func newID() string { return uuid.NewString() }

// token returns 32 random bytes, a stand-in for a token hash.
func token() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// identity returns an identity with one e-mail address and a password
// credential answering to the address; ids are fresh.
func identity(email string) *core.Identity {
	id := newID()
	i := &core.Identity{
		ID:             id,
		SchemaID:       "default",
		Traits:         json.RawMessage(fmt.Sprintf(`{"email":%q}`, email)),
		State:          core.IdentityActive,
		StateChangedAt: base,
		CreatedAt:      base,
		UpdatedAt:      base,
		Addresses: []core.Address{{
			ID: newID(), IdentityID: id, Via: core.ViaEmail, Value: email,
			Status: core.AddressPending, Verifiable: true, Recovery: true, Primary: true,
			CreatedAt: base, UpdatedAt: base,
		}},
	}
	i.SetCredential(core.Credential{
		ID: newID(), Type: core.CredentialPassword, Identifiers: []string{email},
		Config: json.RawMessage(`{"hashed_password":"$argon2id$x"}`), Version: 1,
		CreatedAt: base, UpdatedAt: base,
	})
	return i
}

func email() string { return "u-" + hex.EncodeToString(token()[:6]) + "@example.com" }

func mustCreate(t *testing.T, s store.Store, i *core.Identity) {
	t.Helper()
	if err := s.CreateIdentity(context.Background(), i); err != nil {
		t.Fatalf("CreateIdentity: %v", err)
	}
}

// wantErr fails t unless err matches want (nil means no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// normIdentity returns i as the store returns it: UTC microsecond times,
// addresses with the identity id, sorted identifiers.
func normIdentity(i *core.Identity) *core.Identity {
	c := *i
	c.StateChangedAt = utc(c.StateChangedAt)
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	c.Addresses = nil
	for _, a := range i.Addresses {
		a.IdentityID = i.ID
		a.CreatedAt, a.UpdatedAt = utc(a.CreatedAt), utc(a.UpdatedAt)
		if a.VerifiedAt != nil {
			v := utc(*a.VerifiedAt)
			a.VerifiedAt = &v
		}
		c.Addresses = append(c.Addresses, a)
	}
	c.Credentials = nil
	for _, cr := range i.Credentials {
		cr.CreatedAt, cr.UpdatedAt = utc(cr.CreatedAt), utc(cr.UpdatedAt)
		cr.Identifiers = slices.Clone(cr.Identifiers)
		slices.Sort(cr.Identifiers)
		c.SetCredential(cr)
	}
	return &c
}

// sameIdentity fails t unless got equals want as the store returns it.
func sameIdentity(t *testing.T, got, want *core.Identity) {
	t.Helper()
	w := normIdentity(want)
	g, _ := json.Marshal(got)
	e, _ := json.Marshal(w)
	if !bytes.Equal(g, e) {
		t.Fatalf("identity differs:\n got %s\nwant %s", g, e)
	}
}

func testIdentityCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	addr := email()
	i := identity(addr)
	i.ExternalID = "ext-" + newID()
	i.OrganizationID = newID()
	i.Locale = "de-CH"
	i.MetadataPublic = json.RawMessage(`{"plan":"pro"}`)
	i.MetadataAdmin = json.RawMessage(`{"note":"vip"}`)
	i.MetadataUnsafe = json.RawMessage(`{"theme":"dark"}`)
	verified := base.Add(time.Minute)
	i.Addresses = append(i.Addresses, core.Address{
		ID: newID(), Via: core.ViaSMS, Value: "+41790000000-" + newID()[:8], Verified: true,
		VerifiedAt: &verified, Status: core.AddressCompleted, CreatedAt: base.Add(time.Second), UpdatedAt: base,
	})
	i.SetCredential(core.Credential{
		ID: newID(), Type: core.CredentialWebAuthn, Identifiers: []string{"handle-" + newID(), "handle-" + newID()},
		Config: json.RawMessage(`{"credentials":[]}`), CreatedAt: base, UpdatedAt: base,
	})
	mustCreate(t, s, i)

	get := map[string]func() (*core.Identity, error){
		"GetIdentity":             func() (*core.Identity, error) { return s.GetIdentity(ctx, i.ID) },
		"GetIdentityByExternalID": func() (*core.Identity, error) { return s.GetIdentityByExternalID(ctx, i.ExternalID) },
		"FindIdentityByIdentifier": func() (*core.Identity, error) {
			return s.FindIdentityByIdentifier(ctx, core.CredentialPassword, addr)
		},
		"FindIdentityByIdentifier webauthn": func() (*core.Identity, error) {
			return s.FindIdentityByIdentifier(ctx, core.CredentialWebAuthn, i.Credentials[core.CredentialWebAuthn].Identifiers[1])
		},
		"FindIdentityByAddress": func() (*core.Identity, error) { return s.FindIdentityByAddress(ctx, core.ViaEmail, addr) },
	}
	for name, fn := range get {
		got, err := fn()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameIdentity(t, got, i)
	}
	missing := map[string]func() (*core.Identity, error){
		"GetIdentity":                func() (*core.Identity, error) { return s.GetIdentity(ctx, newID()) },
		"GetIdentityByExternalID":    func() (*core.Identity, error) { return s.GetIdentityByExternalID(ctx, "nope") },
		"GetIdentityByExternalID ''": func() (*core.Identity, error) { return s.GetIdentityByExternalID(ctx, "") },
		"FindIdentityByIdentifier other type": func() (*core.Identity, error) {
			return s.FindIdentityByIdentifier(ctx, core.CredentialCode, addr)
		},
		"FindIdentityByIdentifier case differs": func() (*core.Identity, error) {
			return s.FindIdentityByIdentifier(ctx, core.CredentialPassword, strings.ToUpper(addr))
		},
		"FindIdentityByAddress other via": func() (*core.Identity, error) { return s.FindIdentityByAddress(ctx, core.ViaSMS, addr) },
	}
	for name, fn := range missing {
		_, err := fn()
		wantErr(t, name, err, store.ErrNotFound)
	}

	// UpdateIdentity replaces credentials, identifiers and addresses.
	newAddr := email()
	u := identity(newAddr)
	u.ID = i.ID
	u.Addresses[0].IdentityID = i.ID
	u.ExternalID = ""
	u.Traits = json.RawMessage(`{"email":"` + newAddr + `","name":"Zoë"}`)
	u.State = core.IdentityInactive
	u.UpdatedAt = base.Add(time.Hour)
	wantErr(t, "UpdateIdentity", s.UpdateIdentity(ctx, u), nil)
	got, err := s.GetIdentity(ctx, i.ID)
	wantErr(t, "GetIdentity after update", err, nil)
	sameIdentity(t, got, u)
	for name, fn := range map[string]func() (*core.Identity, error){
		"old identifier":  func() (*core.Identity, error) { return s.FindIdentityByIdentifier(ctx, core.CredentialPassword, addr) },
		"old address":     func() (*core.Identity, error) { return s.FindIdentityByAddress(ctx, core.ViaEmail, addr) },
		"old external id": func() (*core.Identity, error) { return s.GetIdentityByExternalID(ctx, i.ExternalID) },
		"old webauthn": func() (*core.Identity, error) {
			return s.FindIdentityByIdentifier(ctx, core.CredentialWebAuthn, i.Credentials[core.CredentialWebAuthn].Identifiers[0])
		},
	} {
		_, err := fn()
		wantErr(t, name+" after update", err, store.ErrNotFound)
	}
	if _, err := s.FindIdentityByIdentifier(ctx, core.CredentialPassword, newAddr); err != nil {
		t.Fatalf("new identifier after update: %v", err)
	}
	// The old address and identifier are free again.
	mustCreate(t, s, identity(addr))

	missingUpdate := identity(email())
	wantErr(t, "UpdateIdentity missing", s.UpdateIdentity(ctx, missingUpdate), store.ErrNotFound)
	if err := s.CreateIdentity(ctx, nil); err == nil {
		t.Fatal("CreateIdentity(nil): no error")
	}
	wantErr(t, "DeleteIdentity", s.DeleteIdentity(ctx, i.ID), nil)
	wantErr(t, "DeleteIdentity again", s.DeleteIdentity(ctx, i.ID), store.ErrNotFound)
	_, err = s.GetIdentity(ctx, i.ID)
	wantErr(t, "GetIdentity after delete", err, store.ErrNotFound)
	_, err = s.FindIdentityByIdentifier(ctx, core.CredentialPassword, newAddr)
	wantErr(t, "identifier after delete", err, store.ErrNotFound)
}
