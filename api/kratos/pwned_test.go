package kratos_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/pwned"
)

// fakePwned is an httptest server standing in for the Pwned Passwords
// range API: it answers status and, for a 200, the count set for each
// password (by SHA-1 suffix) and records the paths asked for.
type fakePwned struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	counts map[string]int // password → breaches
	paths  []string
}

func newFakePwned(t *testing.T) *fakePwned {
	f := &fakePwned{status: 200, counts: map[string]int{}}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.paths = append(f.paths, r.URL.Path)
		w.WriteHeader(f.status)
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		fmt.Fprintf(w, "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n")
		for pw, n := range f.counts {
			s := sha1.Sum([]byte(pw))
			h := strings.ToUpper(hex.EncodeToString(s[:]))
			if h[:5] == prefix {
				fmt.Fprintf(w, "%s:%d\r\n", h[5:], n)
			}
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakePwned) set(status int, counts map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.counts, f.paths = status, counts, nil
}

func (f *fakePwned) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// withPwned turns haveibeenpwned_enabled on against f.
func withPwned(f *fakePwned, maxBreaches int, ignore bool) ssOption {
	return func(_ *config.Config, o *kratos.SelfServiceOptions) {
		pc := &o.SelfService.Methods.Password.Config
		pc.HaveIBeenPwnedEnabled, pc.MaxBreaches, pc.IgnoreNetworkErrors = true, maxBreaches, ignore
		o.Breaches = pwned.New(strings.TrimPrefix(f.URL, "https://"), f.Client())
	}
}

// TestSelfServiceHaveIBeenPwned: with haveibeenpwned_enabled, registration
// and settings refuse a password found in more than max_breaches breaches
// with Kratos' 4000034, sending only the SHA-1 prefix; a failed look-up
// passes with ignore_network_errors and is refused with 4000005 without it;
// passwords the local rules refuse are never looked up.
func TestSelfServiceHaveIBeenPwned(t *testing.T) {
	t.Parallel()
	const breached, fine = "correct horse battery staple", "a rarely used passphrase 9"
	register := func(t *testing.T, e *ssEnv, email, pw string) resp {
		c := e.native(t)
		f := c.do("GET", "/self-service/registration/api", nil)
		must(t, f, 200)
		return c.do("POST", "/self-service/registration?flow="+flowID(t, f), map[string]any{"method": "password",
			"traits": map[string]any{"email": email}, "password": pw})
	}
	passwordMessage := func(t *testing.T, r resp) map[string]any {
		t.Helper()
		ui, _ := r.json(t)["ui"].(map[string]any)
		for _, n := range asList(ui["nodes"]) {
			n, _ := n.(map[string]any)
			if a, _ := n["attributes"].(map[string]any); a["name"] == "password" {
				if ms := asList(n["messages"]); len(ms) > 0 {
					m, _ := ms[0].(map[string]any)
					return m
				}
			}
		}
		// profile_first registration shows no password node: the
		// message is the form's.
		if ms := asList(ui["messages"]); len(ms) > 0 {
			m, _ := ms[0].(map[string]any)
			return m
		}
		t.Fatalf("no message on the password node or the form: %s", r.body)
		return nil
	}

	t.Run("max_breaches", func(t *testing.T) {
		t.Parallel()
		api := newFakePwned(t)
		e := newSelfServiceEnv(t, withPwned(api, 5, true))
		api.set(200, map[string]int{breached: 6, fine: 5})
		r := register(t, e, "ada@example.com", breached)
		must(t, r, 400)
		m := passwordMessage(t, r)
		if m["id"] != float64(kratos.MsgPasswordTooManyBreaches) || m["text"] != "The password has been found in data breaches and must no longer be used." {
			t.Errorf("breached password: message %v", m)
		}
		if c, _ := m["context"].(map[string]any); c["breaches"] != float64(6) {
			t.Errorf("context %v, want breaches 6", m["context"])
		}
		s := sha1.Sum([]byte(breached))
		full := strings.ToUpper(hex.EncodeToString(s[:]))
		if got := api.asked(); len(got) != 1 || got[0] != "/range/"+full[:5] {
			t.Errorf("asked %v, want only /range/%s", got, full[:5])
		}
		// At max_breaches the password is allowed.
		tok := e.registerNative(t, e.native(t), "bob@example.com", fine)

		// Settings refuses a breached new password too.
		c := e.native(t)
		c.token = tok
		sf := c.do("GET", "/self-service/settings/api", nil)
		must(t, sf, 200)
		r = c.do("POST", "/self-service/settings?flow="+flowID(t, sf), map[string]any{"method": "password", "password": breached})
		must(t, r, 400)
		if m := passwordMessage(t, r); m["id"] != float64(kratos.MsgPasswordTooManyBreaches) {
			t.Errorf("settings with a breached password: %v", m)
		}

		// A password the local rules refuse is not looked up.
		api.set(200, nil)
		must(t, register(t, e, "carol@example.com", "short"), 400)
		if got := api.asked(); len(got) != 0 {
			t.Errorf("a too short password was looked up: %v", got)
		}
	})
	t.Run("lookup fails", func(t *testing.T) {
		t.Parallel()
		for _, ignore := range []bool{true, false} {
			t.Run(fmt.Sprint("ignore_network_errors=", ignore), func(t *testing.T) {
				api := newFakePwned(t)
				e := newSelfServiceEnv(t, withPwned(api, 0, ignore))
				api.set(http.StatusServiceUnavailable, nil)
				r := register(t, e, "dan@example.com", fine)
				if ignore {
					must(t, r, 200)
					return
				}
				must(t, r, 400)
				if m := passwordMessage(t, r); m["id"] != float64(kratos.MsgPasswordPolicyViolation) ||
					!strings.Contains(fmt.Sprint(m["text"]), "could not be checked") {
					t.Errorf("failed look-up without ignore_network_errors: %v", m)
				}
				if len(api.asked()) != 1 {
					t.Errorf("asked %v", api.asked())
				}
			})
		}
	})
	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		api := newFakePwned(t)
		e := newSelfServiceEnv(t)
		api.set(200, map[string]int{breached: 100})
		e.registerNative(t, e.native(t), "eve@example.com", breached)
		if len(api.asked()) != 0 {
			t.Errorf("asked %v with haveibeenpwned_enabled false", api.asked())
		}
	})
}
