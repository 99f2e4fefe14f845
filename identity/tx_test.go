package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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

// countingHasher counts the passwords it hashed.
type countingHasher struct {
	identity.Hasher
	n atomic.Int64
}

func (c *countingHasher) Hash(ctx context.Context, pw []byte) (string, error) {
	c.n.Add(1)
	return c.Hasher.Hash(ctx, pw)
}

// newCountingService is newService with a hasher that counts.
func newCountingService(t testing.TB, st store.Store) (*identity.Service, *countingHasher, *password.Hasher) {
	t.Helper()
	_, h := newService(t, st, nil)
	reg, err := schema.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := &countingHasher{Hasher: h}
	svc, err := identity.New(identity.Options{Store: st, Schemas: reg, Hasher: ch})
	if err != nil {
		t.Fatal(err)
	}
	return svc, ch, h
}

var errRollback = errors.New("roll back on purpose")

func withPassword(email, pw string) identity.Draft {
	return identity.Draft{Traits: traits(email), Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: pw}}}
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	svc, ch, h := newCountingService(t, st)
	cases := []struct {
		name   string
		draft  identity.Draft
		code   core.Code
		hashes int64
	}{
		{name: "cleartext password is hashed", draft: withPassword("prep-1@example.com", "correct horse"), hashes: 1},
		{name: "imported hash is kept, not hashed",
			draft: identity.Draft{Traits: traits("prep-2@example.com"),
				Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: importedHash}}}},
		{name: "no password", draft: identity.Draft{Traits: traits("prep-3@example.com")}},
		{name: "bad traits", draft: identity.Draft{Traits: json.RawMessage(`{"email":"not an address"}`)}, code: core.CodeInvalid},
		{name: "unknown schema", draft: identity.Draft{SchemaID: "nope", Traits: traits("prep-4@example.com")}, code: core.CodeInvalid},
		{name: "bad hash format",
			draft: identity.Draft{Traits: traits("prep-5@example.com"),
				Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{HashedPassword: "plain"}}},
			code: core.CodeInvalid},
		{name: "bad state", draft: identity.Draft{Traits: traits("prep-6@example.com"), State: "frozen"}, code: core.CodeInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ch.n.Load()
			p, err := svc.Prepare(ctx, tc.draft)
			if got := code(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			if got := ch.n.Load() - before; got != tc.hashes {
				t.Errorf("hashed %d times, want %d", got, tc.hashes)
			}
			if err != nil {
				if p != nil {
					t.Errorf("Prepared %+v with an error", p)
				}
				return
			}
			if p.ID() == "" {
				t.Error("Prepared has no id")
			}
			if _, err := st.GetIdentity(ctx, p.ID()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Prepare wrote the identity (err %v)", err)
			}
			// Storing it hashes nothing more.
			var i *core.Identity
			err = st.Update(ctx, func(tx store.Tx) error {
				var err error
				i, err = svc.WithTx(tx).CreatePrepared(ctx, p)
				return err
			})
			if err != nil {
				t.Fatalf("CreatePrepared: %v", err)
			}
			if got := ch.n.Load() - before; got != tc.hashes {
				t.Errorf("hashed %d times in all, want %d", got, tc.hashes)
			}
			if pw := tc.draft.Credentials; pw != nil && pw.Password.Password != "" {
				c, _ := i.Credential(core.CredentialPassword)
				var cfg identity.PasswordConfig
				if err := json.Unmarshal(c.Config, &cfg); err != nil {
					t.Fatal(err)
				}
				if err := h.Verify(ctx, []byte(pw.Password.Password), cfg.HashedPassword); err != nil {
					t.Errorf("stored hash does not verify the password: %v", err)
				}
			}
		})
	}
}

// TestPrepareHoldsNoTransaction hashes while another transaction holds
// SQLite's only writer: Prepare must not need the store.
func TestPrepareHoldsNoTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	svc, _ := newService(t, st, nil)
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- st.Update(ctx, func(tx store.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	prepared := make(chan error, 1)
	go func() {
		_, err := svc.Prepare(ctx, withPassword("busy@example.com", "correct horse"))
		prepared <- err
	}()
	select {
	case err := <-prepared:
		if err != nil {
			t.Errorf("Prepare: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Prepare waited for the writer")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTxNoTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	svc, _ := newService(t, st, nil)
	tx := svc.WithTx(nil)
	id := "8f2c1a4e-0d3b-4c5a-9e6f-7a8b9c0d1e2f"
	checks := map[string]error{
		"create":            func() error { _, err := tx.Create(ctx, identity.Draft{Traits: traits("x@example.com")}); return err }(),
		"create prepared":   func() error { _, err := tx.CreatePrepared(ctx, nil); return err }(),
		"get":               func() error { _, err := tx.Get(ctx, id); return err }(),
		"update":            func() error { _, err := tx.Update(ctx, id, identity.Draft{}); return err }(),
		"update prepared":   func() error { _, err := tx.UpdatePrepared(ctx, id, nil); return err }(),
		"patch":             func() error { _, err := tx.Patch(ctx, id, []byte(`[]`)); return err }(),
		"delete":            tx.Delete(ctx, id),
		"delete credential": tx.DeleteCredential(ctx, id, core.CredentialTOTP, ""),
	}
	for name, err := range checks {
		if code(err) != core.CodeInternal {
			t.Errorf("%s without a transaction: %v, want an internal error", name, err)
		}
	}
	err := st.Update(ctx, func(stx store.Tx) error {
		_, err := svc.WithTx(stx).CreatePrepared(ctx, nil)
		return err
	})
	if code(err) != core.CodeInternal {
		t.Errorf("CreatePrepared(nil): %v, want an internal error", err)
	}
}

// inTx runs fn in one transaction of st and returns fn's error (errRollback
// rolls back).
func inTx(ctx context.Context, st store.Store, svc *identity.Service, fn func(tx *identity.TxService) error) error {
	return st.Update(ctx, func(tx store.Tx) error { return fn(svc.WithTx(tx)) })
}

func TestTxWrites(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			svc, _ := newService(t, st, nil)
			taken, err := svc.Create(ctx, identity.Draft{Traits: json.RawMessage(`{"email":"taken@example.com","username":"taken"}`), ExternalID: "ext-taken"})
			if err != nil {
				t.Fatal(err)
			}
			mustPrepare := func(t *testing.T, d identity.Draft) *identity.Prepared {
				t.Helper()
				p, err := svc.Prepare(ctx, d)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			gone := func(t *testing.T, id, email string) {
				t.Helper()
				if _, err := svc.Get(ctx, id); code(err) != core.CodeNotFound {
					t.Errorf("identity %s after rollback: %v", id, err)
				}
				if _, err := st.FindIdentityByIdentifier(ctx, core.CredentialPassword, email); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("identifier %s after rollback: %v", email, err)
				}
				if _, err := st.FindIdentityByAddress(ctx, core.ViaEmail, email); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("address %s after rollback: %v", email, err)
				}
			}
			cases := []struct {
				name string
				run  func(t *testing.T)
			}{
				{"create commits with the step", func(t *testing.T) {
					p := mustPrepare(t, withPassword("commit@example.com", "correct horse"))
					var made *core.Identity
					err := inTx(ctx, st, svc, func(tx *identity.TxService) error {
						var err error
						made, err = tx.CreatePrepared(ctx, p)
						if err != nil {
							return err
						}
						if seen, err := tx.Get(ctx, made.ID); err != nil || seen.ID != made.ID {
							t.Errorf("Get in the transaction: %v", err)
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					got, err := svc.Get(ctx, p.ID())
					if err != nil || got.ID != made.ID || len(got.Addresses) != 1 {
						t.Fatalf("after commit: %+v %v", got, err)
					}
				}},
				{"rollback leaves nothing behind, the Prepared stays usable", func(t *testing.T) {
					p := mustPrepare(t, withPassword("rollback@example.com", "correct horse"))
					err := inTx(ctx, st, svc, func(tx *identity.TxService) error {
						if _, err := tx.CreatePrepared(ctx, p); err != nil {
							return err
						}
						return errRollback
					})
					if !errors.Is(err, errRollback) {
						t.Fatalf("Update: %v", err)
					}
					gone(t, p.ID(), "rollback@example.com")
					err = inTx(ctx, st, svc, func(tx *identity.TxService) error {
						_, err := tx.CreatePrepared(ctx, p)
						return err
					})
					if err != nil {
						t.Fatalf("second attempt: %v", err)
					}
					if _, err := svc.Get(ctx, p.ID()); err != nil {
						t.Fatal(err)
					}
				}},
				{"conflicts are found before writing and leave the transaction usable", func(t *testing.T) {
					for _, d := range []identity.Draft{
						withPassword("TAKEN@example.com", "correct horse"),
						{Traits: json.RawMessage(`{"email":"free-1@example.com","username":"Taken"}`)},
						{Traits: traits("free-2@example.com"), ExternalID: "ext-taken"},
					} {
						p := mustPrepare(t, d)
						other := mustPrepare(t, identity.Draft{Traits: traits(strings.ToLower(p.ID()) + "@example.com")})
						err := inTx(ctx, st, svc, func(tx *identity.TxService) error {
							_, err := tx.CreatePrepared(ctx, p)
							if code(err) != core.CodeConflict || errors.Is(err, identity.ErrTxAborted) || !errors.Is(err, store.ErrConflict) {
								t.Errorf("create %s: %v, want a conflict found before writing", d.Traits, err)
							}
							// The transaction goes on.
							_, err = tx.CreatePrepared(ctx, other)
							return err
						})
						if err != nil {
							t.Fatalf("rest of the transaction: %v", err)
						}
						if _, err := svc.Get(ctx, other.ID()); err != nil {
							t.Errorf("identity created after the conflict: %v", err)
						}
						if _, err := svc.Get(ctx, p.ID()); code(err) != core.CodeNotFound {
							t.Errorf("conflicting identity was stored: %v", err)
						}
					}
				}},
				{"a conflict with a write earlier in the same transaction", func(t *testing.T) {
					first := mustPrepare(t, withPassword("twice@example.com", "correct horse"))
					second := mustPrepare(t, withPassword("Twice@Example.com", "other horse"))
					err := inTx(ctx, st, svc, func(tx *identity.TxService) error {
						if _, err := tx.CreatePrepared(ctx, first); err != nil {
							return err
						}
						_, err := tx.CreatePrepared(ctx, second)
						if code(err) != core.CodeConflict || errors.Is(err, identity.ErrTxAborted) {
							t.Errorf("second create: %v, want a conflict found before writing", err)
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					owner, err := st.FindIdentityByIdentifier(ctx, core.CredentialPassword, "twice@example.com")
					if err != nil || owner.ID != first.ID() {
						t.Errorf("owner %+v %v, want %s", owner, err, first.ID())
					}
				}},
				{"update keeps its own identifiers, refuses taken ones and rolls back", func(t *testing.T) {
					i, err := svc.Create(ctx, identity.Draft{Traits: json.RawMessage(`{"email":"upd@example.com","username":"upd"}`), ExternalID: "ext-upd"})
					if err != nil {
						t.Fatal(err)
					}
					err = inTx(ctx, st, svc, func(tx *identity.TxService) error {
						// Unchanged identifiers are the identity's own.
						if _, err := tx.Update(ctx, i.ID, identity.Draft{Traits: i.Traits, ExternalID: "ext-upd"}); err != nil {
							t.Errorf("update to itself: %v", err)
						}
						for _, d := range []identity.Draft{
							{Traits: json.RawMessage(`{"email":"taken@example.com","username":"upd"}`)},
							{Traits: json.RawMessage(`{"email":"upd@example.com","username":"taken"}`)},
							{Traits: i.Traits, ExternalID: "ext-taken"},
						} {
							if _, err := tx.Update(ctx, i.ID, d); code(err) != core.CodeConflict || errors.Is(err, identity.ErrTxAborted) {
								t.Errorf("update to %s %s: %v, want a conflict found before writing", d.Traits, d.ExternalID, err)
							}
						}
						p := mustPrepare(t, identity.Draft{Traits: json.RawMessage(`{"email":"upd-new@example.com","username":"upd"}`),
							Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: "correct horse"}}})
						if _, err := tx.UpdatePrepared(ctx, i.ID, p); err != nil {
							t.Errorf("UpdatePrepared: %v", err)
						}
						if got, _ := tx.Get(ctx, i.ID); got == nil || !strings.Contains(string(got.Traits), "upd-new@") {
							t.Errorf("in the transaction: %+v", got)
						}
						return errRollback
					})
					if !errors.Is(err, errRollback) {
						t.Fatal(err)
					}
					got, err := svc.Get(ctx, i.ID)
					if err != nil || string(got.Traits) != string(i.Traits) || got.ExternalID != "ext-upd" {
						t.Errorf("after rollback: %+v %v", got, err)
					}
					if _, ok := got.Credential(core.CredentialPassword); ok {
						if c, _ := got.Credential(core.CredentialPassword); strings.Contains(string(c.Config), "hashed_password") {
							t.Error("rolled-back password was stored")
						}
					}
				}},
				{"patch, delete credential and delete in the transaction", func(t *testing.T) {
					i, err := svc.Create(ctx, identity.Draft{Traits: traits("pd@example.com"),
						Credentials: &identity.CredentialsDraft{OIDC: []identity.OIDCProvider{{Provider: "google", Subject: "pd"}}}})
					if err != nil {
						t.Fatal(err)
					}
					err = inTx(ctx, st, svc, func(tx *identity.TxService) error {
						if _, err := tx.Patch(ctx, i.ID, []byte(`[{"op":"replace","path":"/traits/email","value":"taken@example.com"}]`)); code(err) != core.CodeConflict || errors.Is(err, identity.ErrTxAborted) {
							t.Errorf("patch to a taken address: %v", err)
						}
						if _, err := tx.Patch(ctx, i.ID, []byte(`[{"op":"replace","path":"/id","value":"x"}]`)); code(err) != core.CodeInvalid {
							t.Errorf("patch of /id: %v", err)
						}
						if _, err := tx.Patch(ctx, i.ID, []byte(`[{"op":"replace","path":"/traits/email","value":"pd2@example.com"}]`)); err != nil {
							t.Errorf("patch: %v", err)
						}
						if err := tx.DeleteCredential(ctx, i.ID, core.CredentialOIDC, "google:pd"); err != nil {
							t.Errorf("delete credential: %v", err)
						}
						if err := tx.DeleteCredential(ctx, i.ID, core.CredentialOIDC, "google:pd"); code(err) != core.CodeNotFound {
							t.Errorf("delete credential twice: %v", err)
						}
						if err := tx.Delete(ctx, i.ID); err != nil {
							t.Errorf("delete: %v", err)
						}
						if _, err := tx.Get(ctx, i.ID); code(err) != core.CodeNotFound || errors.Is(err, identity.ErrTxAborted) {
							t.Errorf("get after delete: %v", err)
						}
						if err := tx.Delete(ctx, i.ID); code(err) != core.CodeNotFound {
							t.Errorf("delete twice: %v", err)
						}
						return errRollback
					})
					if !errors.Is(err, errRollback) {
						t.Fatal(err)
					}
					got, err := svc.Get(ctx, i.ID)
					if err != nil || string(got.Traits) != string(i.Traits) {
						t.Fatalf("after rollback: %+v %v", got, err)
					}
					if _, ok := got.Credential(core.CredentialOIDC); !ok {
						t.Error("rolled-back credential deletion was stored")
					}
					if _, err := st.FindIdentityByAddress(ctx, core.ViaEmail, "pd2@example.com"); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("rolled-back patch was stored: %v", err)
					}
				}},
				{"Create hashes and stores in one call", func(t *testing.T) {
					var id string
					err := inTx(ctx, st, svc, func(tx *identity.TxService) error {
						i, err := tx.Create(ctx, withPassword("direct@example.com", "correct horse"))
						if err == nil {
							id = i.ID
						}
						if _, err := tx.Create(ctx, identity.Draft{Traits: json.RawMessage(`{"email":1}`)}); code(err) != core.CodeInvalid {
							t.Errorf("bad traits: %v", err)
						}
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := svc.Get(ctx, id); err != nil {
						t.Error(err)
					}
				}},
			}
			for _, tc := range cases {
				t.Run(tc.name, tc.run)
			}
			if got, err := svc.Get(ctx, taken.ID); err != nil || string(got.Traits) != string(taken.Traits) {
				t.Errorf("the taken identity changed: %+v %v", got, err)
			}
		})
	}
}

// TestTxConcurrentCreate races two transactions for one address: the loser
// gets CodeConflict, found either before writing (it saw the winner) or by
// its insert (then matching ErrTxAborted), and leaves nothing behind.
func TestTxConcurrentCreate(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			svc, _ := newService(t, st, nil)
			winner, err := svc.Prepare(ctx, identity.Draft{Traits: traits("race@example.com")})
			if err != nil {
				t.Fatal(err)
			}
			loser, err := svc.Prepare(ctx, identity.Draft{Traits: traits("race@example.com")})
			if err != nil {
				t.Fatal(err)
			}
			inserted, commit := make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			var winErr error
			go func() {
				defer wg.Done()
				winErr = inTx(ctx, st, svc, func(tx *identity.TxService) error {
					_, err := tx.CreatePrepared(ctx, winner)
					close(inserted)
					<-commit
					return err
				})
			}()
			<-inserted
			lost := make(chan error, 1)
			go func() {
				lost <- inTx(ctx, st, svc, func(tx *identity.TxService) error {
					_, err := tx.CreatePrepared(ctx, loser)
					return err
				})
			}()
			time.Sleep(200 * time.Millisecond) // let the loser reach its insert where the database lets it
			close(commit)
			wg.Wait()
			if winErr != nil {
				t.Fatalf("winner: %v", winErr)
			}
			err = <-lost
			if code(err) != core.CodeConflict {
				t.Fatalf("loser: %v, want a conflict", err)
			}
			t.Logf("loser's conflict found by its insert: %v", errors.Is(err, identity.ErrTxAborted))
			if _, err := svc.Get(ctx, loser.ID()); code(err) != core.CodeNotFound {
				t.Errorf("loser stored: %v", err)
			}
			owner, err := st.FindIdentityByAddress(ctx, core.ViaEmail, "race@example.com")
			if err != nil || owner.ID != winner.ID() {
				t.Errorf("owner %+v %v, want %s", owner, err, winner.ID())
			}
			if n, err := st.CountIdentities(ctx, store.IdentityQuery{}); err != nil || n != 1 {
				t.Errorf("%d identities (%v), want 1", n, err)
			}
		})
	}
}
