package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// A bcrypt hash of "correct horse" made by htpasswd.
const importedHash = "$2y$05$a1tZMhm9UOE086F9Gkh9yuQep/JzwGgzrs2bDYSY14OQ2ig6yQePe"

func newService(t testing.TB, st store.Store, now func() time.Time) (*identity.Service, *password.Hasher) {
	t.Helper()
	reg, err := schema.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(password.Params{Algorithm: password.AlgorithmArgon2,
		Argon2: password.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := identity.New(identity.Options{Store: st, Schemas: reg, Hasher: h, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s, h
}

func traits(email string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"email":%q}`, email))
}

func code(err error) core.Code {
	if err == nil {
		return ""
	}
	return core.ErrorCode(err)
}

func TestNewRequiresDependencies(t *testing.T) {
	t.Parallel()
	if _, err := identity.New(identity.Options{}); err == nil {
		t.Fatal("New without dependencies succeeded")
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600))
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, hasher := newService(t, open(t), func() time.Time { return fixed })
			cases := []struct {
				name  string
				draft identity.Draft
				code  core.Code
				check func(t *testing.T, i *core.Identity)
			}{
				{name: "cleartext password is hashed, identifiers and addresses derived",
					draft: identity.Draft{Traits: json.RawMessage(`{"email":"Ann@Example.COM","username":"Ann_1"}`),
						Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: "correct horse"}}},
					check: func(t *testing.T, i *core.Identity) {
						if i.SchemaID != schema.DefaultID || i.State != core.IdentityActive || !i.CreatedAt.Equal(fixed.UTC().Truncate(time.Microsecond)) {
							t.Errorf("identity %+v", i)
						}
						c, _ := i.Credential(core.CredentialPassword)
						var pc identity.PasswordConfig
						_ = json.Unmarshal(c.Config, &pc)
						if err := hasher.Verify(ctx, []byte("correct horse"), pc.HashedPassword); err != nil {
							t.Errorf("hash does not verify: %v", err)
						}
						if len(c.Identifiers) != 2 {
							t.Errorf("password identifiers %v", c.Identifiers)
						}
						cc, ok := i.Credential(core.CredentialCode)
						if !ok || string(cc.Config) != `{"addresses":[{"channel":"email","address":"ann@example.com"}]}` {
							t.Errorf("code credential %s", cc.Config)
						}
						if len(i.Addresses) != 1 || !i.Addresses[0].Verifiable || !i.Addresses[0].Recovery || !i.Addresses[0].Primary ||
							i.Addresses[0].Status != core.AddressPending {
							t.Errorf("addresses %+v", i.Addresses)
						}
					}},
				{name: "imported hash kept as is",
					draft: identity.Draft{Traits: traits("hash@example.com"),
						Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: importedHash}}},
					check: func(t *testing.T, i *core.Identity) {
						c, _ := i.Credential(core.CredentialPassword)
						if string(c.Config) != `{"hashed_password":"`+importedHash+`"}` {
							t.Errorf("config %s", c.Config)
						}
					}},
				{name: "imported verified address",
					draft: identity.Draft{Traits: traits("ver@example.com"), VerifiableAddresses: []identity.AddressDraft{
						{Via: core.ViaEmail, Value: "VER@example.com", Verified: true},
						{Via: core.ViaEmail, Value: "not-in-traits@example.com", Verified: true}}},
					check: func(t *testing.T, i *core.Identity) {
						if len(i.Addresses) != 1 || !i.Addresses[0].Verified || i.Addresses[0].Status != core.AddressCompleted || i.Addresses[0].VerifiedAt == nil {
							t.Errorf("addresses %+v", i.Addresses)
						}
					}},
				{name: "oidc links are identifiers",
					draft: identity.Draft{Traits: traits("oidc@example.com"), Credentials: &identity.CredentialsDraft{
						OIDC: []identity.OIDCProvider{{Provider: "google", Subject: "1"}, {Provider: "github", Subject: "2"}}}},
					check: func(t *testing.T, i *core.Identity) {
						c, _ := i.Credential(core.CredentialOIDC)
						if len(c.Identifiers) != 2 || (c.Identifiers[0] != "google:1" && c.Identifiers[1] != "google:1") {
							t.Errorf("oidc %+v", c)
						}
					}},
				{name: "inactive state and metadata",
					draft: identity.Draft{Traits: traits("meta@example.com"), State: core.IdentityInactive,
						MetadataPublic: json.RawMessage(`{ "a" : 1 }`), MetadataAdmin: json.RawMessage(`null`)},
					check: func(t *testing.T, i *core.Identity) {
						if i.State != core.IdentityInactive || string(i.MetadataPublic) != `{"a":1}` || i.MetadataAdmin != nil {
							t.Errorf("identity %+v", i)
						}
					}},
				{name: "chosen id",
					draft: identity.Draft{ID: "6F9619FF-8B86-4011-B42D-00C04FC964FF", Traits: traits("chosen@example.com")},
					check: func(t *testing.T, i *core.Identity) {
						if i.ID != "6f9619ff-8b86-4011-b42d-00c04fc964ff" {
							t.Errorf("id %q, want the chosen one", i.ID)
						}
					}},
				{name: "chosen id taken", draft: identity.Draft{ID: "6f9619ff-8b86-4011-b42d-00c04fc964ff", Traits: traits("chosen2@example.com")}, code: core.CodeConflict},
				{name: "bad id", draft: identity.Draft{ID: "not-a-uuid", Traits: traits("badid@example.com")}, code: core.CodeInvalid},
				{name: "bad traits", draft: identity.Draft{Traits: traits("nope")}, code: core.CodeInvalid},
				{name: "bad hash", draft: identity.Draft{Traits: traits("bh@example.com"),
					Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: "plain"}}}, code: core.CodeInvalid},
				{name: "bad metadata", draft: identity.Draft{Traits: traits("bm@example.com"), MetadataPublic: json.RawMessage(`{`)}, code: core.CodeInvalid},
				{name: "bad address via", draft: identity.Draft{Traits: traits("bv@example.com"),
					VerifiableAddresses: []identity.AddressDraft{{Via: "fax", Value: "1"}}}, code: core.CodeInvalid},
				{name: "duplicate oidc link", draft: identity.Draft{Traits: traits("do@example.com"), Credentials: &identity.CredentialsDraft{
					OIDC: []identity.OIDCProvider{{Provider: "g", Subject: "1"}, {Provider: "g", Subject: "1"}}}}, code: core.CodeInvalid},
				{name: "duplicate email", draft: identity.Draft{Traits: traits("ANN@example.com")}, code: core.CodeConflict},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					i, err := svc.Create(ctx, tc.draft)
					if code(err) != tc.code {
						t.Fatalf("Create error %v, want code %q", err, tc.code)
					}
					if err != nil {
						return
					}
					stored, err := svc.Get(ctx, i.ID)
					if err != nil {
						t.Fatal(err)
					}
					tc.check(t, stored)
				})
			}
		})
	}
}

func TestUpdateKeepsVerification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := newService(t, storetest.SQLite(t), nil)
	i, err := svc.Create(ctx, identity.Draft{Traits: json.RawMessage(`{"email":"a@example.com","name":"A"}`),
		VerifiableAddresses: []identity.AddressDraft{{Via: core.ViaEmail, Value: "a@example.com", Verified: true}}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.Update(ctx, i.ID, identity.Draft{SchemaID: "default", Traits: json.RawMessage(`{"email":"a@example.com","name":"B"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Addresses) != 1 || !u.Addresses[0].Verified || u.Addresses[0].ID != i.Addresses[0].ID || u.State != core.IdentityActive {
		t.Fatalf("update lost verification: %+v", u.Addresses)
	}
	if _, err := svc.Update(ctx, "nope", identity.Draft{}); code(err) != core.CodeNotFound {
		t.Fatalf("update of malformed id: %v", err)
	}
}

func TestConcurrentCreateSameIdentifier(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newService(t, open(t), nil)
			var ok, conflict atomic.Int32
			var wg sync.WaitGroup
			for n := 0; n < 16; n++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := svc.Create(context.Background(), identity.Draft{Traits: traits("race@example.com")})
					switch code(err) {
					case "":
						ok.Add(1)
					case core.CodeConflict:
						conflict.Add(1)
					default:
						t.Errorf("unexpected error: %v", err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 1 || conflict.Load() != 15 {
				t.Fatalf("ok=%d conflict=%d, want 1 and 15", ok.Load(), conflict.Load())
			}
		})
	}
}

func TestBatchCreate(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			svc, _ := newService(t, st, nil)
			if _, err := svc.Create(ctx, identity.Draft{Traits: traits("taken@example.com")}); err != nil {
				t.Fatal(err)
			}
			// 300 rows span two bulk chunks; the second chunk holds a
			// conflict with the store and a duplicate inside the batch.
			var drafts []identity.Draft
			for n := 0; n < 300; n++ {
				d := identity.Draft{Traits: traits(fmt.Sprintf("u%d@example.com", n))}
				if n%50 == 0 {
					d.Credentials = &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: "pw-" + fmt.Sprint(n)}}
				}
				drafts = append(drafts, d)
			}
			drafts[260].Traits = traits("taken@example.com")
			drafts[270].Traits = traits("u280@example.com")
			drafts[5].Traits = json.RawMessage(`{"email":1}`)
			res := svc.BatchCreate(ctx, drafts)
			if len(res) != len(drafts) {
				t.Fatalf("%d results for %d drafts", len(res), len(drafts))
			}
			failed := map[int]core.Code{}
			for n, r := range res {
				if r.Err != nil {
					failed[n] = core.ErrorCode(r.Err)
				} else if r.Identity == nil {
					t.Fatalf("row %d: no identity and no error", n)
				}
			}
			want := map[int]core.Code{5: core.CodeInvalid, 260: core.CodeConflict, 280: core.CodeConflict}
			if len(failed) != len(want) {
				t.Fatalf("failed rows %v, want %v", failed, want)
			}
			for n, c := range want {
				if failed[n] != c {
					t.Fatalf("row %d: %q, want %q (all failures %v)", n, failed[n], c, failed)
				}
			}
			total, _ := st.CountIdentities(ctx, store.IdentityQuery{})
			if total != 1+300-3 {
				t.Fatalf("stored %d identities, want %d", total, 1+300-3)
			}
			got, err := svc.Get(ctx, res[50].Identity.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got.Credential(core.CredentialPassword); !ok {
				t.Fatal("hashed row has no password")
			}
		})
	}
}

func TestDeleteRemovesSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	svc, _ := newService(t, st, nil)
	i, err := svc.Create(ctx, identity.Draft{Traits: traits("del@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := st.CreateSession(ctx, &core.Session{ID: "0b0a5f0e-8a43-4d4e-9f54-7a3a6b1d2c3e", IdentityID: i.ID, TokenHash: []byte("0123456789abcdef0123456789abcdef"),
		Active: true, AAL: core.AAL1, IssuedAt: now, AuthenticatedAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, i.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSession(ctx, "0b0a5f0e-8a43-4d4e-9f54-7a3a6b1d2c3e"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session survived its identity: %v", err)
	}
	if err := svc.Delete(ctx, i.ID); code(err) != core.CodeNotFound {
		t.Fatalf("second delete: %v", err)
	}
}

// BenchmarkBatchCreate measures import throughput of pre-hashed identities
// (the bulk path) on SQLite.
func BenchmarkBatchCreate(b *testing.B) {
	ctx := context.Background()
	svc, _ := newService(b, storetest.SQLite(b), nil)
	const batch = 1000
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		drafts := make([]identity.Draft, batch)
		for k := range drafts {
			drafts[k] = identity.Draft{Traits: traits(fmt.Sprintf("bench-%d-%d@example.com", n, k)),
				Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: importedHash}}}
		}
		for _, r := range svc.BatchCreate(ctx, drafts) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "identities/s")
}
