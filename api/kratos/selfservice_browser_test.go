package kratos_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
)

// browserForm fetches a browser flow (with the client's cookies, as an SSR
// UI forwarding them would) and returns it with a form pre-filled with its
// csrf_token.
func browserForm(t *testing.T, b *client, kind, id string, fields url.Values) (map[string]any, url.Values) {
	t.Helper()
	f := b.do("GET", "/self-service/"+kind+"/flows?id="+id, nil)
	must(t, f, http.StatusOK)
	m := f.json(t)
	form := url.Values{"csrf_token": {csrfOf(t, m)}}
	for k, v := range fields {
		form[k] = v
	}
	return m, form
}

// location returns the Location of a 303 and fails unless it starts with
// prefix.
func location(t *testing.T, r resp, prefix string) string {
	t.Helper()
	must(t, r, http.StatusSeeOther)
	loc := r.hdr.Get("Location")
	if !strings.HasPrefix(loc, prefix) {
		t.Fatalf("redirect to %q, want a URL starting with %q", loc, prefix)
	}
	return loc
}

// TestSelfServiceBrowserDoneWhen is the "Done when" sequence for a
// browser that only follows cookies, forms and redirects (no JSON requests
// besides fetching flows, which an SSR UI does): register in two screens,
// whoami with the cookie, change a trait and the password in settings, log
// out, fail with the old password, log in with the new one. Recovery and
// verification are run by the recovery tests.
func TestSelfServiceBrowserDoneWhen(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		b := e.browser(t)
		ui := func(kind string) string { return e.base + "ui/" + kind + "?flow=" }

		// Registration: traits first, then the password (profile_first).
		id := flowID(t, b.do("GET", "/self-service/registration/browser", nil))
		_, form := browserForm(t, b, "registration", id, url.Values{"method": {"profile"},
			"traits.email": {"jules@example.com"}, "traits.name": {"Jules"}})
		location(t, b.do("POST", "/self-service/registration?flow="+id, form), ui("registration")+id)
		f, form := browserForm(t, b, "registration", id, url.Values{"method": {"password"},
			"traits.email": {"jules@example.com"}, "traits.name": {"Jules"}, "password": {"correct horse battery"}})
		if !hasID(messageIDs(f), kratos.MsgRegistrationChooseCred) {
			t.Fatalf("no credentials screen: %v", f)
		}
		location(t, b.do("POST", "/self-service/registration?flow="+id, form), e.base)

		// whoami with the session cookie.
		who := b.do("GET", "/sessions/whoami", nil)
		must(t, who, http.StatusOK)
		identityID := who.hdr.Get("X-Kratos-Authenticated-Identity-Id")

		// Settings: a trait, then the password; each save comes back to
		// the settings UI with the success message.
		sid := flowID(t, b.do("GET", "/self-service/settings/browser", nil))
		_, form = browserForm(t, b, "settings", sid, url.Values{"method": {"profile"},
			"traits.email": {"jules@example.com"}, "traits.name": {"Jules Verne"}})
		location(t, b.do("POST", "/self-service/settings?flow="+sid, form), ui("settings")+sid)
		f, form = browserForm(t, b, "settings", sid, url.Values{"method": {"password"}, "password": {"twenty thousand leagues"}})
		if !hasID(messageIDs(f), kratos.MsgSettingsSaved) || f["state"] != "success" {
			t.Errorf("after the trait change: state %v, messages %v", f["state"], messageIDs(f))
		}
		if name := f["identity"].(map[string]any)["traits"].(map[string]any)["name"]; name != "Jules Verne" {
			t.Errorf("settings flow identity name = %v", name)
		}
		location(t, b.do("POST", "/self-service/settings?flow="+sid, form), ui("settings")+sid)

		// Logout through the logout URL.
		lo := b.do("GET", "/self-service/logout/browser", nil)
		must(t, lo, http.StatusOK)
		location(t, b.do("GET", lo.json(t)["logout_url"].(string), nil), "")
		must(t, b.do("GET", "/sessions/whoami", nil), http.StatusUnauthorized)

		// Login: the old password is refused (back to the UI with 4000006),
		// the new one logs in.
		lid := flowID(t, b.do("GET", "/self-service/login/browser", nil))
		_, form = browserForm(t, b, "login", lid, url.Values{"method": {"password"},
			"identifier": {"jules@example.com"}, "password": {"correct horse battery"}})
		location(t, b.do("POST", "/self-service/login?flow="+lid, form), ui("login")+lid)
		f, form = browserForm(t, b, "login", lid, url.Values{"method": {"password"},
			"identifier": {"jules@example.com"}, "password": {"twenty thousand leagues"}})
		if !hasID(messageIDs(f), kratos.MsgInvalidCredentials) {
			t.Errorf("old password: messages %v lack 4000006", messageIDs(f))
		}
		location(t, b.do("POST", "/self-service/login?flow="+lid, form), e.base)
		who = b.do("GET", "/sessions/whoami", nil)
		must(t, who, http.StatusOK)
		if got := who.hdr.Get("X-Kratos-Authenticated-Identity-Id"); got != identityID {
			t.Errorf("logged in as %s, want %s", got, identityID)
		}
		if name := who.json(t)["identity"].(map[string]any)["traits"].(map[string]any)["name"]; name != "Jules Verne" {
			t.Errorf("whoami name = %v", name)
		}
	})
}

// TestSelfServiceUnifiedRegistration runs registration in the unified style
// chosen by selfservice.flows.registration.style: traits and the password
// on one screen (pinned by testdata/selfservice/registration_unified.golden.json),
// and a one-step native registration.
func TestSelfServiceUnifiedRegistration(t *testing.T) {
	t.Parallel()
	unified := func(_ *config.Config, o *kratos.SelfServiceOptions) {
		o.SelfService.Flows.Registration.Style = config.RegistrationUnified
	}
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		f := c.do("GET", "/self-service/registration/api", nil)
		must(t, f, http.StatusOK)
		ui, _ := json.MarshalIndent(f.json(t)["ui"], "", "  ")
		got := normalize(bytes.ReplaceAll(append(ui, '\n'), []byte(strings.TrimSuffix(e.base, "/")), []byte("<public>")))
		path := filepath.Join("testdata", "selfservice", "registration_unified.golden.json")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if want, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("registration_unified differs (go test -update to accept; %v):\n%s", err, got)
		}
		if bytes.Contains(ui, []byte(`"value": "profile"`)) {
			t.Error("unified registration offers method=profile")
		}
		e.registerNative(t, c, "lena@example.com", "correct horse battery")
	}, unified)
}
