package hanko

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestProfileEmailTakenMeanwhile: an address that another user takes
// between email_create and verify_passcode is email_already_exists (400) on
// every backend — not a unique violation that aborts the step's
// transaction on PostgreSQL and answers 500.
func TestProfileEmailTakenMeanwhile(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newFEnvOn(t, open(t), nil, nil)
			e.createUser(t, "hal@example.com", "hal's password")
			other := e.createUser(t, "ida@example.com", "ida's password")
			login := e.client(t)
			checkSession(t, e, login, passwordLogin(t, login, "hal@example.com", "hal's password"), AMRPassword)
			cl := e.client(t)
			cl.bearer = login.bearer
			mustState(t, cl.start("profile"), statePreflight, 200)
			mustState(t, cl.act("register_client_capabilities", map[string]any{"webauthn_available": false}), stateProfileInit, 200)
			mustState(t, cl.act("email_create", map[string]any{"email": "shared@example.com"}), statePasscodeConfirmation, 200)
			code, _ := e.lastCode(t, "shared@example.com")

			// Meanwhile the other user gets the address as an extra e-mail.
			ctx := context.Background()
			o, err := e.store.GetIdentity(ctx, other.ID)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			o.Addresses = append(o.Addresses, core.Address{ID: "5d2c7f0e-8a51-4c3b-9e6d-2f1a0b9c8d7e", IdentityID: o.ID, Via: core.ViaEmail,
				Value: "shared@example.com", Status: core.AddressPending, CreatedAt: now, UpdatedAt: now})
			if err := e.store.UpdateIdentity(ctx, o); err != nil {
				t.Fatal(err)
			}

			r := cl.act("verify_passcode", map[string]any{"code": code})
			if r.code != 400 || r.Name != statePasscodeConfirmation {
				b, _ := json.Marshal(r)
				t.Fatalf("verify_passcode = %d %s, want 400 in passcode_confirmation: %s", r.code, r.Name, b)
			}
			if got := inputError(r, "verify_passcode", "code"); got != codeEmailAlreadyExists {
				t.Fatalf("input error %q, want %q", got, codeEmailAlreadyExists)
			}
		})
	}
}
