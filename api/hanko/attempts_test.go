package hanko

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// The attempt policy on the Hanko face (issue 10 §1, §2), on every store
// backend: limits hold across flows, not per flow.

// want429 fails t unless r is Hanko's 429 rate_limit_exceeded in state,
// with payload retry_after and the same Retry-After header.
func want429(t *testing.T, r *flowResp, state string) {
	t.Helper()
	mustState(t, r, state, http.StatusTooManyRequests)
	if r.Error == nil || r.Error.Code != "rate_limit_exceeded" {
		t.Fatalf("error = %s", r.raw)
	}
	var secs int
	if err := json.Unmarshal(r.Payload["retry_after"], &secs); err != nil || secs < 1 {
		t.Fatalf("retry_after = %s (%v)", r.Payload["retry_after"], err)
	}
	if h := r.header.Get("Retry-After"); h != strconv.Itoa(secs) {
		t.Fatalf("Retry-After header %q, payload retry_after %d", h, secs)
	}
}

// flowsPerBackend is how many fresh flows TestAttemptsPasscodeSendsAcrossFlows
// starts: the 1,000 on SQLite, fewer on the server databases to
// spare the shared machine (the limit is reached after three either way).
var flowsPerBackend = map[string]int{"sqlite": 1000, "postgres": 200, "mysql": 200}

// TestAttemptsPasscodeSendsAcrossFlows: fresh login flows for one address
// from one client get 429 once hanko.rate_limiter.passcode_limits (3 a
// minute per address and client) is used up, and no more mail goes out.
// Before the fix the count lived in each flow's stash, so every fresh flow
// mailed a new passcode.
func TestAttemptsPasscodeSendsAcrossFlows(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newFEnvOn(t, open(t), nil, nil)
			e.createUser(t, "bob@example.com", "")
			sent, refused := 0, 0
			for range flowsPerBackend[name] {
				cl := e.client(t)
				cl.start("login")
				cl.act("register_client_capabilities", map[string]any{"webauthn_available": false})
				mustState(t, cl.act("continue_with_login_identifier", map[string]any{"email": "bob@example.com"}), stateLoginMethodChooser, 200)
				r := cl.act("continue_to_passcode_confirmation", nil)
				if r.code == http.StatusOK {
					mustState(t, r, statePasscodeConfirmation, 200)
					sent++
					continue
				}
				want429(t, r, stateLoginMethodChooser)
				refused++
			}
			msgs, err := e.store.ListMessages(context.Background(), store.MessageQuery{Recipient: "bob@example.com", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if sent != 3 || len(msgs) != 3 || refused != flowsPerBackend[name]-3 {
				t.Fatalf("%d flows: %d passcodes offered, %d mails, %d refused; want 3, 3 and the rest", flowsPerBackend[name], sent, len(msgs), refused)
			}
		})
	}
}

// TestAttemptsWrongPasscodesAcrossFlows: wrong passcodes count per identity
// across fresh codes and flows from fresh client addresses; past the
// per-identity limit (20 wrong in 15 minutes) even a fresh code from a
// fresh address is refused before it is looked at. Before the fix only each
// code's three attempts counted.
func TestAttemptsWrongPasscodesAcrossFlows(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newFEnvOn(t, open(t), nil, nil)
			e.createUser(t, "carol@example.com", "")
			wrong := 0
			for i := range 7 {
				cl := e.client(t)
				cl.ip = fmt.Sprintf("198.51.100.%d", i+1)
				toPasscode(t, cl, "carol@example.com")
				good, _ := e.lastCode(t, "carol@example.com")
				bad := "000000"
				if good == bad {
					bad = "111111"
				}
				for try := 1; try <= 3; try++ {
					r := cl.act("verify_passcode", map[string]any{"code": bad})
					if wrong == 20 {
						want429(t, r, statePasscodeConfirmation)
						// The right code of this fresh flow is refused too.
						want429(t, cl.act("verify_passcode", map[string]any{"code": good}), statePasscodeConfirmation)
						return
					}
					wrong++
					if try < 3 {
						mustState(t, r, statePasscodeConfirmation, 400)
					} else if r.code != 401 || r.Error.Code != "passcode_max_attempts_reached" {
						t.Fatalf("third wrong code of flow %d: %s", i+1, r.raw)
					}
				}
			}
			t.Fatalf("%d wrong passcodes across 7 flows and addresses without a 429", wrong)
		})
	}
}

// TestAttemptsPasswordLockoutResistance: wrong passwords from many client
// addresses move the per-identity count (Hanko's own password_limits are
// per user and address only), so a distributed guesser is refused; the
// user, from an address they logged in from before, still gets in, and an
// attacker hammering from one address is refused after five.
func TestAttemptsPasswordLockoutResistance(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newFEnvOn(t, open(t), nil, nil)
			e.createUser(t, "dave@example.com", "dave's right password")
			user := e.client(t)
			user.ip = "192.0.2.50"
			checkSession(t, e, user, passwordLogin(t, user, "dave@example.com", "dave's right password"), AMRPassword)

			// One attacker address: five wrong, then refused.
			hammer := e.client(t)
			hammer.ip = "203.0.113.66"
			r := passwordLogin(t, hammer, "dave@example.com", "guess 0")
			for i := 1; i < 5; i++ {
				mustState(t, r, stateLoginPassword, 400)
				r = hammer.act("password_login", map[string]any{"password": fmt.Sprintf("guess %d", i)})
			}
			mustState(t, r, stateLoginPassword, 400)
			want429(t, hammer.act("password_login", map[string]any{"password": "guess 5"}), stateLoginPassword)

			// Ten more addresses, 15 more wrong: the identity's 20.
			for i := range 15 {
				cl := e.client(t)
				cl.ip = fmt.Sprintf("198.51.100.%d", i/2+1)
				mustState(t, passwordLogin(t, cl, "dave@example.com", fmt.Sprintf("spread %d", i)), stateLoginPassword, 400)
			}
			fresh := e.client(t)
			fresh.ip = "198.51.100.200"
			want429(t, passwordLogin(t, fresh, "dave@example.com", "dave's right password"), stateLoginPassword)

			// The user's own address is not locked out: a typo, then in.
			again := e.client(t)
			again.ip = "192.0.2.50"
			mustState(t, passwordLogin(t, again, "dave@example.com", "typo"), stateLoginPassword, 400)
			checkSession(t, e, again, again.act("password_login", map[string]any{"password": "dave's right password"}), AMRPassword)
		})
	}
}
