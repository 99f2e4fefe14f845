package hanko

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store/storetest"
)

// registerUpTo drives a registration of email up to the state before the
// last step (password_creation) and returns the client.
// registrations counts registerUpTo's clients, to give each an address.
var registrations atomic.Int32

func registerUpTo(t *testing.T, e *fEnv, email string, verify bool) *client {
	t.Helper()
	cl := e.client(t)
	// Each registration from its own client address: passcode mails to one
	// address are limited per client address across flows (3 a minute).
	cl.ip = fmt.Sprintf("198.51.100.%d", registrations.Add(1)%250+1)
	mustState(t, cl.start("registration"), statePreflight, 200)
	mustState(t, cl.act("register_client_capabilities", map[string]any{"webauthn_available": false}), stateRegistrationInit, 200)
	r := cl.act("register_login_identifier", map[string]any{"email": email})
	if verify {
		mustState(t, r, statePasscodeConfirmation, 200)
		code, _ := e.lastCode(t, email)
		r = cl.act("verify_passcode", map[string]any{"code": code})
	}
	mustState(t, r, statePasswordCreation, 200)
	return cl
}

// countWithAddress returns how many identities hold the e-mail address.
func countWithAddress(t *testing.T, e *fEnv, email string) int {
	t.Helper()
	i, err := e.store.FindIdentityByAddress(context.Background(), core.ViaEmail, email)
	if err != nil {
		return 0
	}
	if i == nil {
		t.Fatal("nil identity")
	}
	return 1
}

// TestRegistrationTakenAddress: a registration whose address another
// registration took meanwhile ends in the flow's 400 with
// email_already_exists — never technical_error 500 — on every backend, with
// and without e-mail verification, one after the other and in parallel.
func TestRegistrationTakenAddress(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name   string
				verify bool
			}{{"verification", true}, {"no verification", false}} {
				t.Run(tc.name, func(t *testing.T) {
					e := newFEnvOn(t, open(t), func(c *config.Hanko) {
						c.Email.RequireVerification = tc.verify
						c.Privacy.ShowAccountExistenceHints = !tc.verify
					}, nil)

					t.Run("one after the other", func(t *testing.T) {
						a := registerUpTo(t, e, "seq@example.com", tc.verify)
						b := registerUpTo(t, e, "seq@example.com", tc.verify)
						checkSession(t, e, a, a.act("register_password", map[string]any{"new_password": "a's password 1"}), firstAMR(tc.verify))
						r := b.act("register_password", map[string]any{"new_password": "b's password 1"})
						if r.code != 400 || r.Name != statePasswordCreation || r.Error == nil || r.Error.Code != codeEmailAlreadyExists {
							t.Fatalf("second registration = %d %s: %s", r.code, r.Name, r.raw)
						}
						if _, ok := b.cookies["hanko"]; ok {
							t.Fatal("the refused registration got a session cookie")
						}
						// The flow can still go back and register another address.
						mustState(t, b.act("back", nil), prevState(tc.verify), 200)
						if !tc.verify {
							// A new registration of the taken address is refused at once.
							c := e.client(t)
							c.start("registration")
							c.act("register_client_capabilities", map[string]any{"webauthn_available": false})
							r := c.act("register_login_identifier", map[string]any{"email": "seq@example.com"})
							if r.code != 400 || inputError(r, "register_login_identifier", "email") != codeEmailAlreadyExists {
								t.Fatalf("register_login_identifier of a taken address = %d: %s", r.code, r.raw)
							}
						}
					})

					t.Run("in parallel", func(t *testing.T) {
						const n = 4
						type req struct {
							path string
							body []byte
							hdr  http.Header
						}
						reqs := make([]req, n)
						for k := range reqs {
							cl := registerUpTo(t, e, "par@example.com", tc.verify)
							body, _ := json.Marshal(map[string]any{"input_data": map[string]any{"new_password": "a parallel password"},
								"csrf_token": cl.last.CSRFToken})
							reqs[k] = req{path: cl.last.Actions["register_password"].Href, body: body}
						}
						codes := make([]int, n)
						bodies := make([][]byte, n)
						var wg sync.WaitGroup
						for k := range reqs {
							wg.Add(1)
							go func() {
								defer wg.Done()
								hr := httptest.NewRequest(http.MethodPost, reqs[k].path, bytes.NewReader(reqs[k].body))
								hr.Header.Set("Content-Type", "application/json")
								rec := httptest.NewRecorder()
								e.public.ServeHTTP(rec, hr)
								codes[k], bodies[k] = rec.Code, rec.Body.Bytes()
							}()
						}
						wg.Wait()
						ok := 0
						for k := range codes {
							var r flowResp
							if err := json.Unmarshal(bodies[k], &r); err != nil {
								t.Fatalf("answer %d: %d %s", k, codes[k], bodies[k])
							}
							switch {
							case codes[k] == 200 && r.Name == stateSuccess:
								ok++
							case codes[k] == 400 && r.Name == statePasswordCreation && r.Error != nil && r.Error.Code == codeEmailAlreadyExists:
							default:
								t.Errorf("answer %d: %d %s", k, codes[k], bodies[k])
							}
						}
						if ok != 1 {
							t.Fatalf("%d registrations succeeded, want 1", ok)
						}
						if countWithAddress(t, e, "par@example.com") != 1 {
							t.Fatal("no user holds the address")
						}
					})
				})
			}
		})
	}
}

func prevState(verify bool) string {
	if verify {
		return statePasscodeConfirmation
	}
	return stateRegistrationInit
}

func firstAMR(verify bool) string {
	if verify {
		return AMRPasscode
	}
	return AMRPassword
}
