package hanko

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/sqlstore"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestStepTx: a step's transaction reads an identity and its WebAuthn
// credentials once, hands out copies, and reads again after a write.
func TestStepTx(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	sc := &statementCounter{n: map[string]int{}}
	st.(*sqlstore.Store).Trace(sc)
	e := newFEnvOn(t, st, nil, nil)
	u := e.createUser(t, "step@example.com", "")
	reads := func() int {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		n := 0
		for _, c := range sc.n {
			n += c
		}
		clear(sc.n)
		return n
	}
	err := stepStore{st}.Update(ctx, func(tx store.Tx) error {
		reads()
		i, err := tx.GetIdentity(ctx, u.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ListWebAuthnCredentials(ctx, u.ID); err != nil {
			return err
		}
		first := reads()
		i.Traits = json.RawMessage(`{"email":"changed@example.com"}`)
		i.Addresses[0].Value = "changed@example.com"
		again, err := tx.GetIdentity(ctx, u.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ListWebAuthnCredentials(ctx, u.ID); err != nil {
			return err
		}
		if n := reads(); n != 0 || again.Addresses[0].Value != "step@example.com" || string(again.Traits) == string(i.Traits) {
			t.Errorf("second read: %d statements (first %d), address %s", n, first, again.Addresses[0].Value)
		}
		again.State = core.IdentityInactive
		if err := tx.UpdateIdentity(ctx, again); err != nil {
			return err
		}
		reads()
		after, err := tx.GetIdentity(ctx, u.ID)
		if err != nil {
			return err
		}
		if n := reads(); n == 0 || after.State != core.IdentityInactive {
			t.Errorf("read after a write: %d statements, state %s", n, after.State)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFlowCacheStale: a step on a flow that changed in the store behind the
// kept copy (another server, or a step that kept the CSRF token) runs on
// the flow as stored, and an old token is refused as before.
func TestFlowCacheStale(t *testing.T) {
	ctx := context.Background()
	e := newPasskeyEnv(t, storetest.SQLite(t), nil)
	l := &lean{tb: t, h: e.public}
	l.post("/login", []byte(`{}`))
	old := l.last.CSRFToken
	r := l.act("register_client_capabilities", benchPasskeyCaps)
	if r.Name != stateLoginInit {
		t.Fatalf("state %s", r.Name)
	}
	href := r.Actions["webauthn_generate_request_options"].Href
	id := href[strings.Index(href, "%40")+3:]
	f, err := e.store.GetFlow(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.UpdateFlow(ctx, f); err != nil { // a new version, the same token
		t.Fatal(err)
	}
	if r := l.act("webauthn_generate_request_options", nil); r.Name != stateLoginPasskey || r.Error != nil {
		t.Fatalf("step after the flow changed behind the kept copy: %s", r.raw)
	}
	body, _ := json.Marshal(map[string]any{"input_data": map[string]any{}, "csrf_token": old})
	req := httptest.NewRequest(http.MethodPost, href, bytes.NewReader(body))
	rec := httptest.NewRecorder()
	e.public.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"operation_not_permitted_error"`) {
		t.Fatalf("old token: %d %s", rec.Code, rec.Body.String())
	}
}

// listCountingTx counts the credential lists read through it.
type listCountingTx struct {
	store.Tx
	lists int
}

func (t *listCountingTx) ListWebAuthnCredentials(ctx context.Context, identityID string) ([]core.WebAuthnCredential, error) {
	t.lists++
	return t.Tx.ListWebAuthnCredentials(ctx, identityID)
}

// TestStepTxCredentialUpdate: after a WebAuthn credential's update (the
// record of a passkey's use) a step's transaction answers the identity's
// credential list without reading it again, and what it answers is what
// the store answers then, on every backend: the updated columns (times in
// UTC to the microsecond, empty transports as the store reads them back),
// the others as read.
func TestStepTxCredentialUpdate(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			e := newFEnvOn(t, st, nil, nil)
			u := e.createUser(t, "cred@example.com", "")
			created := time.Date(2026, 1, 2, 3, 4, 5, 6007, time.UTC)
			for i, tr := range [][]string{{"usb", "nfc"}, nil} {
				c := &core.WebAuthnCredential{ID: fmt.Sprintf("Y3JlZC0%d", i), IdentityID: u.ID, UserHandle: []byte("handle"),
					PublicKey: []byte{1, 2, 3}, AttestationType: "none", AAGUID: make([]byte, 16), SignCount: 3,
					Transports: tr, DisplayName: "key", CreatedAt: created.Add(time.Duration(i) * time.Second), UpdatedAt: created}
				if err := st.CreateWebAuthnCredential(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			used := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("X", 3600))
			err := st.Update(ctx, func(inner store.Tx) error {
				counting := &listCountingTx{Tx: inner}
				tx := newStepTx(counting)
				list, err := tx.ListWebAuthnCredentials(ctx, u.ID)
				if err != nil || len(list) != 2 {
					t.Fatalf("list: %v %v", list, err)
				}
				for i := range list {
					rec := list[i]
					rec.SignCount, rec.BackupState, rec.UserVerified, rec.Attachment = 9, true, true, "platform"
					rec.Transports = []string{}
					if i == 0 {
						rec.Transports = []string{"internal"}
					}
					rec.LastUsedAt, rec.UpdatedAt = &used, used
					rec.PublicKey = []byte{9} // not a column the update writes
					if err := tx.UpdateWebAuthnCredential(ctx, &rec); err != nil {
						return err
					}
				}
				got, err := tx.ListWebAuthnCredentials(ctx, u.ID)
				if err != nil {
					return err
				}
				if counting.lists != 1 {
					t.Errorf("the list was read %d times, want once", counting.lists)
				}
				want, err := inner.ListWebAuthnCredentials(ctx, u.ID)
				if err != nil {
					return err
				}
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				if !bytes.Equal(gj, wj) {
					t.Errorf("after the update the step answers\n%s\nthe store\n%s", gj, wj)
				}
				pj, _ := json.Marshal(e.h.profileJSON(u, got))
				sj, _ := json.Marshal(e.h.profileJSON(u, want))
				if !bytes.Equal(pj, sj) {
					t.Errorf("profile from the step\n%s\nfrom the store\n%s", pj, sj)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
