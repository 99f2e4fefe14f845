package hanko_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/latchkey/latchkey/store/storetest"
)

// TestAttemptsAcrossFaces: one attempt policy for both faces, on every
// store backend (issue 10 §1, §2). Wrong passwords on one face count on the
// other; the user's known address still gets in; X-Forwarded-For counts
// only from a trusted proxy; codes sent by either face share the send
// limits. Every 429 carries Retry-After (and Hanko's retry_after).
func TestAttemptsAcrossFaces(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFaces(t, open)
			t.Run("hanko wrong passwords from ten addresses: kratos refuses, the user's own address gets in", func(t *testing.T) {
				f.createUser(t, "amy@example.com", "amy's long password")
				// The user logged in before, on the Kratos face, from home.
				if _, code := f.kratosLogin(t, "amy@example.com", "amy's long password", "192.0.2.77"); code != http.StatusOK {
					t.Fatalf("first login: %d", code)
				}
				for i := range 20 {
					if s := f.hankoLogin(t, "amy@example.com", "guess", fmt.Sprintf("198.51.100.%d", i/2+1)); s.last.Name != "login_password" || s.res.code != 400 {
						t.Fatalf("hanko wrong password %d: %d %s", i+1, s.res.code, s.res.body)
					}
				}
				r, code := f.kratosLogin(t, "amy@example.com", "amy's long password", "198.51.100.99")
				wantKratos429(t, r, code)
				wantHanko429(t, f.hankoLogin(t, "amy@example.com", "amy's long password", "198.51.100.98"))
				// From home, on either face.
				if _, code := f.kratosLogin(t, "amy@example.com", "amy's long password", "192.0.2.77"); code != http.StatusOK {
					t.Fatalf("kratos login from the known address: %d", code)
				}
				f.hankoLogin(t, "amy@example.com", "amy's long password", "192.0.2.77").session()
			})
			t.Run("kratos wrong passwords from ten addresses: hanko refuses", func(t *testing.T) {
				f.createUser(t, "ben@example.com", "ben's long password")
				for i := range 20 {
					if r, code := f.kratosLogin(t, "ben@example.com", "guess", fmt.Sprintf("198.51.100.%d", i/2+1)); code != http.StatusBadRequest {
						t.Fatalf("kratos wrong password %d: %d %s", i+1, code, r.body)
					}
				}
				wantHanko429(t, f.hankoLogin(t, "ben@example.com", "ben's long password", "198.51.100.99"))
				r, code := f.kratosLogin(t, "ben@example.com", "ben's long password", "198.51.100.98")
				wantKratos429(t, r, code)
			})
			t.Run("X-Forwarded-For from an untrusted peer is ignored", func(t *testing.T) {
				f.createUser(t, "cid@example.com", "cid's long password")
				var r xres
				var code int
				for i := range 6 {
					r, code = f.kratosLoginVia(t, "cid@example.com", "guess", "203.0.113.9:40000", fmt.Sprintf("198.51.100.%d", i+1))
					if i < 5 && code != http.StatusBadRequest {
						t.Fatalf("wrong password %d: %d %s", i+1, code, r.body)
					}
				}
				// Six addresses named, one peer: its five were used up.
				wantKratos429(t, r, code)
			})
			t.Run("X-Forwarded-For from a trusted proxy is honoured", func(t *testing.T) {
				f.createUser(t, "dot@example.com", "dot's long password")
				for i := range 8 {
					if r, code := f.kratosLogin(t, "dot@example.com", "guess", fmt.Sprintf("198.51.100.%d", i+1)); code != http.StatusBadRequest {
						t.Fatalf("wrong password %d from its own address: %d %s", i+1, code, r.body)
					}
				}
			})
			t.Run("codes sent by both faces share the per-address limit", func(t *testing.T) {
				f.createUser(t, "eve@example.com", "eve's long password")
				for i := range 5 {
					fl := f.startFlow(t, "login", "X-Forwarded-For: 198.51.100."+strconv.Itoa(i+1))
					fl.act("continue_with_login_identifier", map[string]any{"email": "eve@example.com"})
					if s := fl.act("continue_to_passcode_confirmation", nil); s != "passcode_confirmation" {
						t.Fatalf("hanko passcode %d: %s", i+1, fl.res.body)
					}
					if r := f.kratosRecovery(t, "eve@example.com", fmt.Sprintf("198.51.100.%d", i+11)); r.code != http.StatusOK {
						t.Fatalf("kratos recovery code %d: %d %s", i+1, r.code, r.body)
					}
				}
				r := f.kratosRecovery(t, "eve@example.com", "198.51.100.50")
				wantKratos429(t, r, r.code)
				fl := f.startFlow(t, "login", "X-Forwarded-For: 198.51.100.51")
				fl.act("continue_with_login_identifier", map[string]any{"email": "eve@example.com"})
				fl.act("continue_to_passcode_confirmation", nil)
				wantHanko429(t, fl)
			})
		})
	}
}

// createUser makes an identity with a password through the Kratos admin API.
func (f *faces) createUser(t *testing.T, email, pw string) {
	t.Helper()
	r := call(t, f.kratosAdm, f.kratosV, "POST", "/admin/identities", map[string]any{"schema_id": "default",
		"traits":      map[string]any{"email": email},
		"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"password": pw}}}})
	if r.code != http.StatusCreated {
		t.Fatalf("create identity: %d %s", r.code, r.body)
	}
}

// kratosLogin runs the Kratos native password login from the client
// address ip, named by the trusted proxy in X-Forwarded-For.
func (f *faces) kratosLogin(t *testing.T, identifier, pw, ip string) (xres, int) {
	t.Helper()
	return f.kratosLoginVia(t, identifier, pw, "", ip)
}

// kratosLoginVia is kratosLogin from the peer address remote ("" for the
// trusted proxy) naming xff in X-Forwarded-For.
func (f *faces) kratosLoginVia(t *testing.T, identifier, pw, remote, xff string) (xres, int) {
	t.Helper()
	hdr := []string{"X-Forwarded-For: " + xff}
	if remote != "" {
		hdr = append(hdr, remoteAddrHeader+": "+remote)
	}
	lf := call(t, f.kratosPub, f.kratosV, "GET", "/self-service/login/api", nil, hdr...)
	if lf.code != http.StatusOK {
		t.Fatalf("login flow: %d %s", lf.code, lf.body)
	}
	id, _ := lf.json(t)["id"].(string)
	r := call(t, f.kratosPub, f.kratosV, "POST", "/self-service/login?flow="+id,
		map[string]any{"method": "password", "identifier": identifier, "password": pw}, hdr...)
	return r, r.code
}

// kratosRecovery asks for a recovery code for email from ip.
func (f *faces) kratosRecovery(t *testing.T, email, ip string) xres {
	t.Helper()
	hdr := "X-Forwarded-For: " + ip
	rf := call(t, f.kratosPub, f.kratosV, "GET", "/self-service/recovery/api", nil, hdr)
	if rf.code != http.StatusOK {
		t.Fatalf("recovery flow: %d %s", rf.code, rf.body)
	}
	id, _ := rf.json(t)["id"].(string)
	return call(t, f.kratosPub, f.kratosV, "POST", "/self-service/recovery?flow="+id,
		map[string]any{"method": "code", "email": email}, hdr)
}

// hankoLogin runs Hanko's password login from ip up to password_login and
// returns the flow.
func (f *faces) hankoLogin(t *testing.T, email, pw, ip string) *hankoFlow {
	t.Helper()
	fl := f.startFlow(t, "login", "X-Forwarded-For: "+ip)
	if fl.act("continue_with_login_identifier", map[string]any{"email": email}) == "login_method_chooser" {
		fl.act("continue_to_password_login", nil)
	}
	fl.act("password_login", map[string]any{"password": pw})
	return fl
}

// wantKratos429 fails t unless r is the Kratos face's 429 error envelope
// (validated against the Kratos spec by call) with Retry-After.
func wantKratos429(t *testing.T, r xres, code int) {
	t.Helper()
	if code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", code, r.body)
	}
	var env struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.Error.Code != 429 {
		t.Fatalf("not the Kratos error envelope: %s", r.body)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
}

// wantHanko429 fails t unless the flow's last answer is Hanko's 429
// rate_limit_exceeded with payload retry_after and the same Retry-After.
func wantHanko429(t *testing.T, fl *hankoFlow) {
	t.Helper()
	var doc struct {
		Payload struct {
			RetryAfter int `json:"retry_after"`
		} `json:"payload"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(fl.res.body, &doc); err != nil || fl.res.code != http.StatusTooManyRequests ||
		doc.Error.Code != "rate_limit_exceeded" || doc.Payload.RetryAfter < 1 {
		t.Fatalf("want 429 rate_limit_exceeded with retry_after: %d %s", fl.res.code, fl.res.body)
	}
	if h := fl.res.header.Get("Retry-After"); h != strconv.Itoa(doc.Payload.RetryAfter) {
		t.Fatalf("Retry-After header %q, payload retry_after %d", h, doc.Payload.RetryAfter)
	}
}
