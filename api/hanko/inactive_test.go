package hanko

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/store"
)

// TestFlowInactiveUser tries every login path of the Flow API with a
// disabled (inactive) identity and the right secrets: each is refused like
// a wrong secret (a 4xx on the input), never a 500, and no session is
// issued.
func TestFlowInactiveUser(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	raw, _ := json.Marshal(map[string]string{"email": "off@example.com"})
	u, err := e.ids.Create(context.Background(), identity.Draft{Traits: raw, State: core.IdentityInactive,
		Credentials: &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: "a long enough password"}}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("password", func(t *testing.T) {
		r := passwordLogin(t, e.client(t), "off@example.com", "a long enough password")
		mustState(t, r, stateLoginPassword, 400)
	})
	t.Run("passcode", func(t *testing.T) {
		cl := e.client(t)
		toPasscode(t, cl, "off@example.com")
		c, _ := e.lastCode(t, "off@example.com")
		r := cl.act("verify_passcode", map[string]any{"code": c})
		mustState(t, r, statePasscodeConfirmation, 400)
		if got := inputError(r, "verify_passcode", "code"); got != codePasscodeInvalid {
			t.Fatalf("input error %q: %s", got, r.raw)
		}
		// The code is spent: sending it again changes nothing.
		r = cl.act("verify_passcode", map[string]any{"code": c})
		if r.code < 400 || r.code >= 500 {
			t.Fatalf("second try: %d %s", r.code, r.raw)
		}
	})
	t.Run("passcode recovery", func(t *testing.T) {
		cl := e.client(t)
		mustState(t, cl.start("login"), statePreflight, 200)
		cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
		if r := cl.act("continue_with_login_identifier", map[string]any{"email": "off@example.com"}); r.Name == stateLoginMethodChooser {
			cl.act("continue_to_password_login", nil)
		}
		r := cl.act("continue_to_passcode_confirmation_recovery", nil)
		mustState(t, r, statePasscodeConfirmation, 200)
		c, _ := e.lastCode(t, "off@example.com")
		r = cl.act("verify_passcode", map[string]any{"code": c})
		mustState(t, r, statePasscodeConfirmation, 400)
	})

	n, err := e.store.CountSessions(context.Background(), store.SessionQuery{IdentityID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d sessions issued for a disabled identity", n)
	}
}

// TestProfileDisabledUser disables an identity that holds a live session:
// the profile flow refuses the session (as Kratos' whoami does), so a
// disabled account cannot change its e-mail addresses or password.
func TestProfileDisabledUser(t *testing.T) {
	t.Parallel()
	e := newFEnv(t, nil)
	u := e.createUser(t, "gone@example.com", "a long enough password")
	cl := e.client(t)
	r := passwordLogin(t, cl, "gone@example.com", "a long enough password")
	mustState(t, r, stateSuccess, 200)
	if r := cl.start("profile"); r.code != 200 {
		t.Fatalf("profile while active: %d %s", r.code, r.raw)
	}
	if _, err := e.ids.Update(context.Background(), u.ID, identity.Draft{SchemaID: u.SchemaID, Traits: u.Traits,
		State: core.IdentityInactive}); err != nil {
		t.Fatal(err)
	}
	if r := cl.start("profile"); r.code != 401 || r.Error == nil || r.Error.Code != errUnauthorized.code {
		t.Fatalf("profile while disabled: %d %s", r.code, r.raw)
	}
}
