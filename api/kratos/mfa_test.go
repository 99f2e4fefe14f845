package kratos_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/method/lookup"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/ratelimit"
)

// withMFA enables the totp and lookup_secret methods.
func withMFA(t *testing.T) ssOption {
	return func(cfg *config.Config, o *kratos.SelfServiceOptions) {
		c, err := cipher.New("0123456789abcdef0123456789abcdef")
		if err != nil {
			t.Fatal(err)
		}
		o.SelfService.Methods.TOTP.Enabled = true
		o.SelfService.Methods.LookupSecret.Enabled = true
		if o.TOTP, err = totp.New(c, totp.Options{Issuer: "latchkey.test", Now: o.Now}); err != nil {
			t.Fatal(err)
		}
		if o.Lookup, err = lookup.New(c, lookup.Options{Now: o.Now}); err != nil {
			t.Fatal(err)
		}
		if o.Attempts, err = ratelimit.NewPolicy(ratelimit.NewDB(o.Store, o.Now, []byte("test")), ratelimit.DefaultPolicyConfig()); err != nil {
			t.Fatal(err)
		}
	}
}

// nodeByName returns the node whose attributes name (or id) is name.
func nodeByName(t *testing.T, f map[string]any, name string) map[string]any {
	t.Helper()
	for _, n := range asList(f["ui"].(map[string]any)["nodes"]) {
		a := n.(map[string]any)["attributes"].(map[string]any)
		if a["name"] == name || a["id"] == name {
			return n.(map[string]any)
		}
	}
	return nil
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := pqtotp.GenerateCodeCustom(secret, at, pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrollTOTP sets up TOTP through a settings flow of c and returns the secret.
func (e *ssEnv) enrollTOTP(t *testing.T, c *client) string {
	t.Helper()
	sf := c.do("GET", "/self-service/settings/api", nil)
	must(t, sf, 200)
	f := sf.json(t)
	qr := nodeByName(t, f, "totp_qr")
	if qr == nil || !strings.HasPrefix(qr["attributes"].(map[string]any)["src"].(string), "data:image/png;base64,") {
		t.Fatalf("no totp_qr PNG node: %s", sf.body)
	}
	sk := nodeByName(t, f, "totp_secret_key")
	text := sk["attributes"].(map[string]any)["text"].(map[string]any)
	secret, _ := text["context"].(map[string]any)["secret"].(string)
	if text["id"].(float64) != 1050006 || secret == "" || text["text"] != secret {
		t.Fatalf("totp_secret_key node: %v", sk)
	}
	id := flowID(t, sf)
	bad := c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "totp", "totp_code": "000000"})
	must(t, bad, 400)
	if !hasID(messageIDs(bad.json(t)), 4000008) {
		t.Fatalf("wrong enrollment code: no 4000008: %s", bad.body)
	}
	ok := c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "totp", "totp_code": totpCode(t, secret, e.clock.now())})
	must(t, ok, 200)
	if nodeByName(t, ok.json(t), "totp_unlink") == nil {
		t.Fatalf("after enrollment: no totp_unlink node: %s", ok.body)
	}
	return secret
}

func sessionAAL(t *testing.T, r resp) (string, []string) {
	t.Helper()
	m := r.json(t)
	if s, ok := m["session"].(map[string]any); ok {
		m = s
	}
	var methods []string
	for _, am := range asList(m["authentication_methods"]) {
		a := am.(map[string]any)
		methods = append(methods, a["method"].(string)+":"+a["aal"].(string))
	}
	aal, _ := m["authenticator_assurance_level"].(string)
	return aal, methods
}

func TestMFATOTPNative(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		c.token = e.registerNative(t, c, "alice@example.com", "correct horse battery")
		// Before any second factor, ?aal=aal2 shows no second-factor nodes.
		pre := c.do("GET", "/self-service/login/api?aal=aal2", nil)
		must(t, pre, 200)
		if nodeByName(t, pre.json(t), "totp_code") != nil {
			t.Fatalf("aal2 flow offers totp without a TOTP device: %s", pre.body)
		}
		secret := e.enrollTOTP(t, c)

		// The aal1 session no longer satisfies highest_available.
		who := c.do("GET", "/sessions/whoami", nil)
		must(t, who, 403)
		if m := who.json(t); m["error"].(map[string]any)["id"] != "session_aal2_required" ||
			!strings.Contains(m["redirect_browser_to"].(string), "aal=aal2") {
			t.Fatalf("whoami: %s", who.body)
		}
		must(t, c.do("GET", "/self-service/settings/api", nil), 403)
		lf := c.do("GET", "/self-service/login/api?aal=aal2", nil)
		must(t, lf, 200)
		f := lf.json(t)
		if f["requested_aal"] != "aal2" || nodeByName(t, f, "totp_code") == nil || nodeByName(t, f, "password") != nil {
			t.Fatalf("aal2 flow nodes: %s", lf.body)
		}
		id := flowID(t, lf)
		bad := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "totp", "totp_code": "123456"})
		must(t, bad, 400)
		if !hasID(messageIDs(bad.json(t)), 4000008) {
			t.Fatalf("wrong code: no 4000008: %s", bad.body)
		}
		// A code two steps old is outside the window.
		old := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "totp",
			"totp_code": totpCode(t, secret, e.clock.now().Add(-90*time.Second))})
		must(t, old, 400)
		code := totpCode(t, secret, e.clock.now().Add(30*time.Second))
		ok := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "totp", "totp_code": code})
		must(t, ok, 200)
		aal, methods := sessionAAL(t, ok)
		if aal != "aal2" || strings.Join(methods, ",") != "password:aal1,totp:aal2" {
			t.Fatalf("after totp: %s %v", aal, methods)
		}
		if ok.json(t)["session_token"] != c.token {
			t.Fatalf("the step-up issued another session: %s", ok.body)
		}
		who = c.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		if aal, _ := sessionAAL(t, who); aal != "aal2" {
			t.Fatalf("whoami after step-up: %s", who.body)
		}

		// The same code is refused a second time (a refresh at aal2).
		rf := c.do("GET", "/self-service/login/api?aal=aal2&refresh=true", nil)
		must(t, rf, 200)
		replay := c.do("POST", "/self-service/login?flow="+flowID(t, rf), map[string]any{"method": "totp", "totp_code": code})
		must(t, replay, 400)
		if !hasID(messageIDs(replay.json(t)), 4000008) {
			t.Fatalf("replayed code: %s", replay.body)
		}

		// Unlinking removes the factor and the session's claim to it.
		sf := c.do("GET", "/self-service/settings/api", nil)
		must(t, sf, 200)
		un := c.do("POST", "/self-service/settings?flow="+flowID(t, sf), map[string]any{"method": "totp", "totp_unlink": true})
		must(t, un, 200)
		if nodeByName(t, un.json(t), "totp_qr") == nil {
			t.Fatalf("after unlink: no new QR code: %s", un.body)
		}
		who = c.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		if aal, methods := sessionAAL(t, who); aal != "aal1" || strings.Join(methods, ",") != "password:aal1" {
			t.Fatalf("after unlink: %s %v", aal, methods)
		}
	}, withMFA(t))
}

func TestMFABrowserStepUp(t *testing.T) {
	t.Parallel()
	e := newSelfServiceEnv(t, withMFA(t))
	n := e.native(t)
	n.token = e.registerNative(t, n, "bob@example.com", "correct horse battery")
	secret := e.enrollTOTP(t, n)

	// SPA: a password login answers 422 to the aal2 flow and sets an aal1 session.
	spa := e.browser(t)
	spa.json = true
	lf := spa.do("GET", "/self-service/login/browser", nil)
	must(t, lf, 200)
	f := lf.json(t)
	// Sent without the spec check (see TestRecoverySPAGetsLocationChange: the spec
	// nests this envelope, Kratos does not).
	r := spa.raw("POST", "/self-service/login?flow="+flowID(t, lf), map[string]any{"method": "password",
		"identifier": "bob@example.com", "password": "correct horse battery", "csrf_token": csrfOf(t, f)})
	must(t, r, 422)
	m := r.json(t)
	to, _ := m["redirect_browser_to"].(string)
	if m["error"].(map[string]any)["id"] != "browser_location_change_required" || !strings.Contains(to, "aal=aal2") {
		t.Fatalf("first factor: %s", r.body)
	}
	must(t, spa.do("GET", "/sessions/whoami", nil), 403)
	af := spa.do("GET", to, nil)
	must(t, af, 200)
	f = af.json(t)
	// The enrollment code's step is used up: the next code logs in.
	replay := spa.do("POST", "/self-service/login?flow="+flowID(t, af), map[string]any{"method": "totp",
		"totp_code": totpCode(t, secret, e.clock.now()), "csrf_token": csrfOf(t, f)})
	must(t, replay, 400)
	ok := spa.do("POST", "/self-service/login?flow="+flowID(t, af), map[string]any{"method": "totp",
		"totp_code": totpCode(t, secret, e.clock.now().Add(30*time.Second)), "csrf_token": csrfOf(t, f)})
	must(t, ok, 200)
	who := spa.do("GET", "/sessions/whoami", nil)
	must(t, who, 200)
	if aal, _ := sessionAAL(t, who); aal != "aal2" {
		t.Fatalf("whoami: %s", who.body)
	}

	// A plain browser is redirected (303) to the aal2 login instead.
	b := e.browser(t)
	lf = b.do("GET", "/self-service/login/browser", nil)
	must(t, lf, http.StatusSeeOther)
	b.json = true
	f = b.do("GET", "/self-service/login/flows?id="+flowID(t, lf), nil).json(t)
	b.json = false
	r = b.do("POST", "/self-service/login?flow="+f["id"].(string), url.Values{"method": {"password"},
		"identifier": {"bob@example.com"}, "password": {"correct horse battery"}, "csrf_token": {csrfOf(t, f)}})
	must(t, r, http.StatusSeeOther)
	if loc := r.hdr.Get("Location"); !strings.Contains(loc, "/self-service/login/browser?aal=aal2") {
		t.Fatalf("browser first factor: Location %q", loc)
	}
}

func TestMFALookupSecrets(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		c.token = e.registerNative(t, c, "carol@example.com", "correct horse battery")
		sf := c.do("GET", "/self-service/settings/api", nil)
		must(t, sf, 200)
		id := flowID(t, sf)
		if nodeByName(t, sf.json(t), "lookup_secret_regenerate") == nil {
			t.Fatalf("no lookup_secret_regenerate: %s", sf.body)
		}
		must(t, c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "lookup_secret", "lookup_secret_confirm": true}), 400)
		gen := c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "lookup_secret", "lookup_secret_regenerate": true})
		must(t, gen, 200)
		node := nodeByName(t, gen.json(t), "lookup_secret_codes")
		if node == nil || nodeByName(t, gen.json(t), "lookup_secret_confirm") == nil {
			t.Fatalf("regenerate: %s", gen.body)
		}
		text := node["attributes"].(map[string]any)["text"].(map[string]any)
		secrets := asList(text["context"].(map[string]any)["secrets"])
		if text["id"].(float64) != 1050015 || len(secrets) != 12 {
			t.Fatalf("codes node: %v", text)
		}
		codes := make([]string, len(secrets))
		for i, s := range secrets {
			codes[i] = s.(map[string]any)["context"].(map[string]any)["secret"].(string)
		}
		must(t, c.do("GET", "/sessions/whoami", nil), 200) // not confirmed yet: no second factor
		must(t, c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "lookup_secret", "lookup_secret_confirm": true}), 200)
		must(t, c.do("GET", "/sessions/whoami", nil), 403)

		lf := c.do("GET", "/self-service/login/api?aal=aal2", nil)
		must(t, lf, 200)
		lid := flowID(t, lf)
		bad := c.do("POST", "/self-service/login?flow="+lid, map[string]any{"method": "lookup_secret", "lookup_secret": "notacode"})
		must(t, bad, 400)
		if !hasID(messageIDs(bad.json(t)), 4000016) {
			t.Fatalf("wrong code: %s", bad.body)
		}
		ok := c.do("POST", "/self-service/login?flow="+lid, map[string]any{"method": "lookup_secret", "lookup_secret": codes[3]})
		must(t, ok, 200)
		if aal, methods := sessionAAL(t, ok); aal != "aal2" || !strings.Contains(strings.Join(methods, ","), "lookup_secret:aal2") {
			t.Fatalf("after code: %s %v", aal, methods)
		}
		rf := c.do("GET", "/self-service/login/api?aal=aal2&refresh=true", nil)
		used := c.do("POST", "/self-service/login?flow="+flowID(t, rf), map[string]any{"method": "lookup_secret", "lookup_secret": codes[3]})
		must(t, used, 400)
		if !hasID(messageIDs(used.json(t)), 4000012) {
			t.Fatalf("used code: %s", used.body)
		}

		// Reveal shows the used code as used.
		sf = c.do("GET", "/self-service/settings/api", nil)
		must(t, sf, 200)
		id = flowID(t, sf)
		rev := c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "lookup_secret", "lookup_secret_reveal": true})
		must(t, rev, 200)
		text = nodeByName(t, rev.json(t), "lookup_secret_codes")["attributes"].(map[string]any)["text"].(map[string]any)
		s3 := asList(text["context"].(map[string]any)["secrets"])[3].(map[string]any)
		if s3["id"].(float64) != 1050014 || !strings.Contains(text["text"].(string), "used") {
			t.Fatalf("used code not shown as used: %v", text)
		}
		// Disabling removes the factor and the session's aal2.
		must(t, c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "lookup_secret", "lookup_secret_disable": true}), 200)
		who := c.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		if aal, _ := sessionAAL(t, who); aal != "aal1" {
			t.Fatalf("after disable: %s", who.body)
		}
	}, withMFA(t))
}

func TestMFAAttemptLimit(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		c.token = e.registerNative(t, c, "dave@example.com", "correct horse battery")
		secret := e.enrollTOTP(t, c) // one wrong enrollment code counted, one right taken back
		lf := c.do("GET", "/self-service/login/api?aal=aal2", nil)
		must(t, lf, 200)
		id := flowID(t, lf)
		for i := 0; i < 4; i++ {
			must(t, c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "totp", "totp_code": "000000"}), 400)
		}
		// The fifth wrong code within a minute used up the (identity, IP) limit:
		// even the right code is refused unchecked.
		must(t, c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "totp", "totp_code": "000000"}), 400)
		r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "totp",
			"totp_code": totpCode(t, secret, e.clock.now().Add(30*time.Second))})
		must(t, r, 429)
		e.clock.add(time.Minute)
		r = c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "totp", "totp_code": totpCode(t, secret, e.clock.now())})
		must(t, r, 200)
	}, withMFA(t))
}

// TestMFAAttemptLimitParallel: wrong TOTP codes sent at once, each on its
// own aal2 flow, cannot slip past the (identity, IP) limit: the attempt is
// counted in the step's transaction before the code is compared, so
// exactly five are checked and the rest answered 429.
func TestMFAAttemptLimitParallel(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		c.token = e.registerNative(t, c, "erin@example.com", "correct horse battery")
		e.enrollTOTP(t, c)
		var ids []string
		for range 8 {
			lf := c.do("GET", "/self-service/login/api?aal=aal2", nil)
			must(t, lf, 200)
			ids = append(ids, flowID(t, lf))
		}
		counts := totpAtOnce(c, ids, "000000", nil)
		if counts[400] != 5 || counts[429] != 3 {
			t.Fatalf("answers to 8 parallel wrong codes: %v, want 5 × 400 and 3 × 429", counts)
		}
	}, withMFA(t))
}

// TestTOTPReplayParallel: one right code sent at once on several aal2
// flows of the session is accepted once: each step claims the code's time
// step (a counter hit) in its transaction, after its attempt is counted,
// and the others meet the claim (4000008) on every backend.
func TestTOTPReplayParallel(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		c.token = e.registerNative(t, c, "fay@example.com", "correct horse battery")
		secret := e.enrollTOTP(t, c)
		var ids []string
		for range 4 {
			// refresh: a flow finished after another stepped the session
			// up still checks its code.
			lf := c.do("GET", "/self-service/login/api?aal=aal2&refresh=true", nil)
			must(t, lf, 200)
			ids = append(ids, flowID(t, lf))
		}
		code := totpCode(t, secret, e.clock.now().Add(30*time.Second))
		counts := totpAtOnce(c, ids, code, func(r resp) {
			if r.code == 400 && !hasID(messageIDs(r.json(t)), 4000008) {
				t.Errorf("a refused replay: %s", r.body)
			}
		})
		if counts[200] != 1 || counts[400] != 3 {
			t.Fatalf("answers to one code sent on 4 flows at once: %v, want 1 × 200 and 3 × 400", counts)
		}
	}, withMFA(t))
}

// totpAtOnce posts code on each of the login flows ids at once and counts
// the answers by status, passing each to check first when it is set.
func totpAtOnce(c *client, ids []string, code string, check func(r resp)) map[int]int {
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
	)
	for _, id := range ids {
		wg.Go(func() {
			r := c.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "totp", "totp_code": code})
			if check != nil {
				check(r)
			}
			mu.Lock()
			counts[r.code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return counts
}
