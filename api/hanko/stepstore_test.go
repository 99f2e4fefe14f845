package hanko

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
