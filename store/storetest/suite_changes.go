package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// changeLog is the store with its session change log.
type changeLog interface {
	store.Store
	store.SessionChangeLog
}

// testSessionChanges checks the session change log: every write that
// changes what a session check answers appends one row in its own
// transaction (and tells the listener after the commit), a rolled-back
// one appends nothing, reads page in id order, and the sweep removes old
// rows.
func testSessionChanges(t *testing.T, st store.Store) {
	ctx := context.Background()
	s, ok := st.(changeLog)
	if !ok {
		t.Fatalf("%T does not implement store.SessionChangeLog", st)
	}
	var mu sync.Mutex
	var heard []store.SessionChange
	s.OnSessionChanges(func(c []store.SessionChange) {
		mu.Lock()
		heard = append(heard, c...)
		mu.Unlock()
	})
	i := identity(email())
	mustCreate(t, s, i)
	a, b := session(i.ID, base), session(i.ID, base)
	wantErr(t, "CreateSession", s.CreateSession(ctx, a), nil)
	wantErr(t, "CreateSession", s.CreateSession(ctx, b), nil)
	wc := webauthnCredential(i.ID, base)
	start, err := s.LastSessionChange(ctx)
	wantErr(t, "LastSessionChange", err, nil)
	mu.Lock()
	if len(heard) != 0 { // creating an identity or a session changes no answer
		t.Fatalf("creating an identity and sessions logged %v", heard)
	}
	mu.Unlock()

	idOnly := store.SessionChange{IdentityID: i.ID}
	steps := []struct {
		name string
		do   func() error
		want []store.SessionChange // nil: nothing logged
	}{
		{"UpdateSession", func() error { a.Active = false; return s.UpdateSession(ctx, a) },
			[]store.SessionChange{{IdentityID: i.ID, SessionID: a.ID}}},
		{"RevokeSessions", func() error { _, err := s.RevokeSessions(ctx, i.ID, ""); return err }, []store.SessionChange{idOnly}},
		{"RevokeSessions revoking none", func() error { _, err := s.RevokeSessions(ctx, i.ID, ""); return err }, nil},
		{"two in one transaction", func() error {
			return s.Update(ctx, func(tx store.Tx) error {
				if err := tx.UpdateIdentity(ctx, i); err != nil {
					return err
				}
				return tx.UpdateSession(ctx, b)
			})
		}, []store.SessionChange{idOnly, {IdentityID: i.ID, SessionID: b.ID}}},
		{"DeleteSession", func() error { return s.DeleteSession(ctx, a.ID) }, []store.SessionChange{{SessionID: a.ID}}},
		{"DeleteIdentitySessions", func() error { _, err := s.DeleteIdentitySessions(ctx, i.ID); return err }, []store.SessionChange{idOnly}},
		{"DeleteIdentitySessions deleting none", func() error { _, err := s.DeleteIdentitySessions(ctx, i.ID); return err }, nil},
		{"UpdateIdentity", func() error { i.State = core.IdentityInactive; return s.UpdateIdentity(ctx, i) }, []store.SessionChange{idOnly}},
		{"CreateWebAuthnCredential", func() error { return s.CreateWebAuthnCredential(ctx, wc) }, []store.SessionChange{idOnly}},
		{"UpdateWebAuthnCredential", func() error { wc.SignCount++; return s.UpdateWebAuthnCredential(ctx, wc) }, []store.SessionChange{idOnly}},
		{"DeleteWebAuthnCredential", func() error { return s.DeleteWebAuthnCredential(ctx, i.ID, wc.ID) }, []store.SessionChange{idOnly}},
		{"rolled back", func() error {
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.UpdateIdentity(ctx, i); err != nil {
					return err
				}
				return errors.New("roll back")
			})
			if err == nil {
				return errors.New("Update did not fail")
			}
			return nil
		}, nil},
		{"DeleteIdentity", func() error { return s.DeleteIdentity(ctx, i.ID) }, []store.SessionChange{idOnly}},
	}
	last := start
	for _, step := range steps {
		mu.Lock()
		heard = nil
		mu.Unlock()
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got, err := s.SessionChangesAfter(ctx, last, 100)
		wantErr(t, step.name+": SessionChangesAfter", err, nil)
		ids := make([]int64, len(got))
		for k := range got {
			ids[k] = got[k].ID
			if got[k].ID <= last {
				t.Fatalf("%s: change id %d is not after %d", step.name, got[k].ID, last)
			}
			got[k].ID = 0
		}
		if !slices.Equal(got, step.want) {
			t.Fatalf("%s: logged %v, want %v", step.name, got, step.want)
		}
		mu.Lock()
		h := heard
		mu.Unlock()
		if !slices.Equal(h, step.want) {
			t.Fatalf("%s: the listener heard %v, want %v", step.name, h, step.want)
		}
		if !slices.IsSorted(ids) {
			t.Fatalf("%s: ids %v not ascending", step.name, ids)
		}
		if len(ids) > 0 {
			last = ids[len(ids)-1]
		}
	}
	n, err := s.LastSessionChange(ctx)
	wantErr(t, "LastSessionChange", err, nil)
	if n != last {
		t.Fatalf("LastSessionChange = %d, want %d", n, last)
	}
	all, err := s.SessionChangesAfter(ctx, start, 100)
	wantErr(t, "SessionChangesAfter", err, nil)
	three, err := s.SessionChangesAfter(ctx, start, 3)
	wantErr(t, "SessionChangesAfter with a limit", err, nil)
	if !slices.Equal(three, all[:3]) {
		t.Fatalf("SessionChangesAfter(limit 3) = %v, want the first three of %v", three, all)
	}
	if _, err := s.SessionChangesAfter(ctx, start, 0); err == nil {
		t.Fatal("SessionChangesAfter with limit 0 did not fail")
	}
	// Every row was written just now: a cut-off in the past removes none,
	// one in the future removes them all, in batches. (Ids may have gaps: a
	// rolled-back transaction spends a sequence number on PostgreSQL and
	// MySQL.)
	sweep(t, "session changes before the past", 0, func(l int) (int, error) {
		return s.DeleteSessionChangesBefore(ctx, time.Now().Add(-time.Hour), l)
	})
	sweep(t, "session changes", len(all), func(l int) (int, error) {
		return s.DeleteSessionChangesBefore(ctx, time.Now().Add(time.Hour), l)
	})
	// Ids never go back, even with the table emptied.
	i2 := identity(email())
	mustCreate(t, s, i2)
	wantErr(t, "UpdateIdentity", s.UpdateIdentity(ctx, i2), nil)
	n, err = s.LastSessionChange(ctx)
	wantErr(t, "LastSessionChange", err, nil)
	if n <= last {
		t.Fatalf("a change after the sweep got id %d, not above %d", n, last)
	}
}
