package hanko

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestOpenedFlows runs the first step of login, registration and profile
// flows, which their start did not store, on replicas over one store: the
// replica that started the flow, another with the same secrets, one whose
// secrets were rotated since and one with other secrets. The first step
// stores the flow wherever it runs; a replayed first step, a token changed
// in its time or its tag, a token of another flow or another definition
// a profile flow's first step with another user's session and a flow
// past its lifetime are refused as stored flows' are, and nothing is
// stored for them.
func TestOpenedFlows(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	clk := &fakeClock{now: time.Now()}
	replica := func(signer *cipher.Signer) *fEnv {
		return newFEnvOn(t, st, nil, func(o *Options) {
			o.Now = clk.Now
			if signer != nil {
				o.Signer = signer
			}
		})
	}
	rotated, err := cipher.NewSigner("a-new-secret-of-at-least-32-chars!!!", "a-test-secret-of-at-least-32-chars!!")
	if err != nil {
		t.Fatal(err)
	}
	other, err := cipher.NewSigner("another-secret-of-at-least-32-chars!")
	if err != nil {
		t.Fatal(err)
	}
	a, b, c, d := replica(nil), replica(nil), replica(rotated), replica(other)
	caps := map[string]any{"webauthn_available": false}
	ctx := context.Background()
	flowID := func(r *flowResp) string {
		for _, act := range r.Actions {
			_, id, _ := strings.Cut(act.Href, "%40")
			return id
		}
		t.Fatalf("no action in %s", r.raw)
		return ""
	}
	stored := func(id string) bool {
		t.Helper()
		_, err := st.GetFlow(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	// started returns a client with a flow of def started on e, checked
	// not to be stored.
	started := func(e *fEnv, def string) *client {
		cl := e.client(t)
		r := cl.start(def)
		if r.Name != statePreflight || len(r.CSRFToken) != 32 || stored(flowID(r)) {
			t.Fatalf("start: %s (stored %v)", r.raw, stored(flowID(r)))
		}
		return cl
	}
	refused := func(r *flowResp, code int, errCode string) {
		t.Helper()
		if r.code != code || r.Error == nil || r.Error.Code != errCode {
			t.Fatalf("got %d %s, want %d %s", r.code, r.raw, code, errCode)
		}
	}
	// on sends cl's next request to e.
	on := func(cl *client, e *fEnv) *client { cl.e = e; return cl }

	for _, tc := range []struct {
		name       string
		def        string
		start, ran *fEnv
		next       string // an action of the state after the first step
	}{
		{"login, same replica", "login", a, a, "continue_with_login_identifier"},
		{"login, other replica", "login", a, b, "continue_with_login_identifier"},
		{"login, rotated secrets", "login", a, c, "continue_with_login_identifier"},
		{"registration, other replica", "registration", b, a, "register_login_identifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := started(tc.start, tc.def)
			first := *cl.last
			id := flowID(&first)
			r := on(cl, tc.ran).act("register_client_capabilities", caps)
			if r.code != 200 || r.Name == statePreflight || r.Name == stateError || !stored(id) {
				t.Fatalf("first step: %s (stored %v)", r.raw, stored(id))
			}
			// The first step replayed, on every replica: refused, the
			// flow unchanged, and it goes on.
			f, err := st.GetFlow(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range []*fEnv{a, b, c} {
				replay := e.client(t)
				replay.last = &first
				refused(replay.act("register_client_capabilities", caps), 403, "operation_not_permitted_error")
			}
			if g, err := st.GetFlow(ctx, id); err != nil || g.Version != f.Version || g.CSRFToken != f.CSRFToken {
				t.Fatalf("a replay changed the flow: %+v %v", g, err)
			}
			if r := on(cl, tc.start).act(tc.next, map[string]any{"email": "opened@example.com"}); r.code != 200 {
				t.Fatalf("%s: %s", tc.next, r.raw)
			}
		})
	}

	t.Run("other secrets", func(t *testing.T) {
		cl := started(a, "login")
		refused(on(cl, d).act("register_client_capabilities", caps), 403, "operation_not_permitted_error")
		if stored(flowID(cl.last)) {
			t.Fatal("stored")
		}
	})
	t.Run("changed tokens", func(t *testing.T) {
		cl := started(a, "login")
		good := cl.last.CSRFToken
		for _, i := range []int{0, 7, 8, 31} {
			bad := []byte(good)
			if bad[i] == 'A' {
				bad[i] = 'B'
			} else {
				bad[i] = 'A'
			}
			for _, e := range []*fEnv{a, b} {
				cl.last.CSRFToken = string(bad)
				refused(on(cl, e).act("register_client_capabilities", caps), 403, "operation_not_permitted_error")
			}
		}
		other := started(a, "login")
		cl.last.CSRFToken = other.last.CSRFToken // another flow's token
		refused(on(cl, b).act("register_client_capabilities", caps), 403, "operation_not_permitted_error")
		cl.last.CSRFToken = good[:31]
		refused(on(cl, b).act("register_client_capabilities", caps), 403, "operation_not_permitted_error")
		if stored(flowID(cl.last)) {
			t.Fatal("stored")
		}
		cl.last.CSRFToken = good
		if r := on(cl, b).act("register_client_capabilities", caps); r.code != 200 {
			t.Fatalf("the flow's own token: %s", r.raw)
		}
	})
	t.Run("other definition", func(t *testing.T) {
		cl := started(a, "registration")
		href := cl.last.Actions["register_client_capabilities"]
		href.Href = strings.Replace(href.Href, "/registration?", "/login?", 1)
		cl.last.Actions["register_client_capabilities"] = href
		refused(on(cl, b).act("register_client_capabilities", caps), 403, "operation_not_permitted_error")
		if stored(flowID(cl.last)) {
			t.Fatal("stored")
		}
	})
	t.Run("profile", func(t *testing.T) {
		a.createUser(t, "pia@example.com", "pia's password")
		a.createUser(t, "quinn@example.com", "quinn's password")
		session := func(email, pw string) string {
			login := a.client(t)
			checkSession(t, a, login, passwordLogin(t, login, email, pw), AMRPassword)
			return login.bearer
		}
		pia, quinn := session("pia@example.com", "pia's password"), session("quinn@example.com", "quinn's password")
		cl := a.client(t)
		cl.bearer = pia
		r := cl.start("profile")
		id := flowID(r)
		if r.Name != statePreflight || stored(id) {
			t.Fatalf("start: %s (stored %v)", r.raw, stored(id))
		}
		// Another user's session opens nothing, on any replica.
		first := *cl.last
		for _, e := range []*fEnv{a, b} {
			other := e.client(t)
			other.bearer, other.last = quinn, &first
			refused(other.act("register_client_capabilities", caps), 403, "operation_not_permitted_error")
		}
		if stored(id) {
			t.Fatal("stored for another user's session")
		}
		r = on(cl, b).act("register_client_capabilities", caps)
		if r.code != 200 || r.Name != stateProfileInit || !stored(id) {
			t.Fatalf("first step: %s (stored %v)", r.raw, stored(id))
		}
		if f, err := st.GetFlow(ctx, id); err != nil || f.IdentityID == "" {
			t.Fatalf("stored profile flow: %+v %v", f, err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		x, y := started(a, "login"), started(a, "login")
		clk.Add(flowTTL + time.Second)
		defer clk.Add(-flowTTL - time.Second)
		refused(on(x, a).act("register_client_capabilities", caps), 410, "flow_expired_error")
		refused(on(y, b).act("register_client_capabilities", caps), 410, "flow_expired_error")
		if stored(flowID(x.last)) || stored(flowID(y.last)) {
			t.Fatal("stored")
		}
	})
}
