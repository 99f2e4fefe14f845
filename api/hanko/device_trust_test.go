package hanko

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestFlowMFADeviceTrust: after a second factor the device_trust state
// (policy prompt) trusts the device; a later password login of the same
// user from it skips login_otp until the trust expires. Forged, malformed,
// expired and other users' cookies are ignored.
func TestFlowMFADeviceTrust(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := &fakeClock{now: time.Now()}
			e := newFEnvOn(t, open(t), func(c *config.Hanko) {
				c.Email.UseForAuthentication = false
				// Shorter than the session lifespan: the session service
				// keeps the real clock while the handler's moves.
				c.MFA.DeviceTrustDuration = time.Hour
			}, func(o *Options) { o.Now = clk.Now })
			name := e.h.cfg.MFA.DeviceTrustCookieName
			e.createUser(t, "tru@example.com", "tru's password")
			e.createUser(t, "eve@example.com", "eve's password")
			login := e.client(t)
			checkSession(t, e, login, passwordLogin(t, login, "tru@example.com", "tru's password"), AMRPassword)
			secret := setUpOTP(t, e, profileClient(t, e, login.bearer))
			evel := e.client(t)
			checkSession(t, e, evel, passwordLogin(t, evel, "eve@example.com", "eve's password"), AMRPassword)
			setUpOTP(t, e, profileClient(t, e, evel.bearer))

			// trust_device: success sets the cookie.
			cl := e.client(t)
			mustState(t, passwordLogin(t, cl, "tru@example.com", "tru's password"), stateLoginOTP, 200)
			r := cl.act("otp_code_validate", map[string]any{"otp_code": otpCodeAt(t, secret, e.limitClock.Now().Add(30*time.Second))})
			mustState(t, r, stateDeviceTrust, 200)
			r = cl.act("trust_device", nil)
			claims := checkSession(t, e, cl, r, AMRPassword)
			if amr, _ := claims.Extra["amr"].([]any); len(amr) != 2 || amr[1] != AMRTOTP {
				t.Fatalf("amr = %v", claims.Extra["amr"])
			}
			ck := cl.cookies[name]
			if ck == nil || !ck.HttpOnly || ck.MaxAge != 3600 {
				t.Fatalf("device cookie %+v; Set-Cookie %v", ck, r.header.Values("Set-Cookie"))
			}
			id, _, _ := strings.Cut(ck.Value, ".")

			// Each login is a password check: a minute apart, they stay
			// inside hanko.rate_limiter.password_limits.
			pwLogin := func(c *client, email, pw string) *flowResp {
				e.limitClock.Add(time.Minute)
				return passwordLogin(t, c, email, pw)
			}
			withCookie := func(value string) *client {
				c := e.client(t)
				c.cookies[name] = &http.Cookie{Name: name, Value: value}
				return c
			}
			// The trusted device skips the second factor.
			c := withCookie(ck.Value)
			claims = checkSession(t, e, c, pwLogin(c, "tru@example.com", "tru's password"), AMRPassword)
			if amr, _ := claims.Extra["amr"].([]any); len(amr) != 1 {
				t.Fatalf("amr of a trusted-device login = %v", claims.Extra["amr"])
			}

			// Cookies that are not the device's are ignored.
			for what, value := range map[string]string{
				"forged secret":   id + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
				"short secret":    id + ".AAAA",
				"unknown device":  "00000000-0000-4000-8000-000000000000." + strings.SplitN(ck.Value, ".", 2)[1],
				"no separator":    id,
				"not base64":      id + ".!!!",
				"not a device id": "x' OR 1=1 --." + strings.SplitN(ck.Value, ".", 2)[1],
				"empty":           "",
			} {
				c := withCookie(value)
				if r := pwLogin(c, "tru@example.com", "tru's password"); r.Name != stateLoginOTP {
					t.Fatalf("%s: state %s, want login_otp: %s", what, r.Name, r.raw)
				}
			}
			// Another user's login from the device asks for their code.
			c = withCookie(ck.Value)
			mustState(t, pwLogin(c, "eve@example.com", "eve's password"), stateLoginOTP, 200)

			// Still trusted just before the expiry, no longer after it.
			clk.Add(time.Hour - time.Minute)
			c = withCookie(ck.Value)
			mustState(t, pwLogin(c, "tru@example.com", "tru's password"), stateSuccess, 200)
			clk.Add(2 * time.Minute)
			c = withCookie(ck.Value)
			mustState(t, pwLogin(c, "tru@example.com", "tru's password"), stateLoginOTP, 200)
			if d, err := e.store.GetTrustedDevice(context.Background(), id); err != nil || d.TokenHash == nil || strings.Contains(ck.Value, string(d.TokenHash)) {
				t.Fatalf("stored device %+v (%v)", d, err)
			}
		})
	}
}

// TestFlowMFADeviceTrustPolicies: always trusts the device without asking,
// never neither asks nor trusts (and ignores a cookie trusted before).
func TestFlowMFADeviceTrustPolicies(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	always := newFEnvOn(t, st, func(c *config.Hanko) {
		c.Email.UseForAuthentication = false
		c.MFA.DeviceTrustPolicy = "always"
	}, nil)
	always.createUser(t, "al@example.com", "al's password")
	login := always.client(t)
	checkSession(t, always, login, passwordLogin(t, login, "al@example.com", "al's password"), AMRPassword)
	secret := setUpOTP(t, always, profileClient(t, always, login.bearer))
	cl := always.client(t)
	mustState(t, passwordLogin(t, cl, "al@example.com", "al's password"), stateLoginOTP, 200)
	checkSession(t, always, cl, cl.act("otp_code_validate", map[string]any{"otp_code": otpCodeAt(t, secret, always.limitClock.Now().Add(30*time.Second))}), AMRPassword)
	name := always.h.cfg.MFA.DeviceTrustCookieName
	ck := cl.cookies[name]
	if ck == nil {
		t.Fatal("policy always set no device cookie")
	}
	c := always.client(t)
	c.cookies[name] = ck
	checkSession(t, always, c, passwordLogin(t, c, "al@example.com", "al's password"), AMRPassword)

	// The same store under policy never: the cookie is ignored and
	// validate goes straight to success without a cookie.
	never := newFEnvOn(t, st, func(c *config.Hanko) {
		c.Email.UseForAuthentication = false
		c.MFA.DeviceTrustPolicy = "never"
	}, nil)
	c = never.client(t)
	c.cookies[name] = ck
	mustState(t, passwordLogin(t, c, "al@example.com", "al's password"), stateLoginOTP, 200)
	never.limitClock.Add(time.Minute)
	r := c.act("otp_code_validate", map[string]any{"otp_code": otpCodeAt(t, secret, never.limitClock.Now())})
	checkSession(t, never, c, r, AMRPassword)
	if len(r.header.Values("Set-Cookie")) > 0 {
		for _, v := range r.header.Values("Set-Cookie") {
			if strings.HasPrefix(v, name+"=") {
				t.Fatalf("policy never set %s", v)
			}
		}
	}
}

// FuzzParseDeviceCookie: any cookie value parses to a UUID and 32 bytes, or
// is refused; never a panic.
func FuzzParseDeviceCookie(f *testing.F) {
	f.Add("00000000-0000-4000-8000-000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("x.y")
	f.Add("")
	f.Add("....")
	f.Fuzz(func(t *testing.T, v string) {
		id, secret, ok := parseDeviceCookie(v)
		if ok && (len(secret) != 32 || !strings.HasPrefix(v, id+".")) {
			t.Fatalf("parseDeviceCookie(%q) = %q, %x", v, id, secret)
		}
		if !ok && (id != "" || secret != nil) {
			t.Fatalf("refused %q but returned %q, %x", v, id, secret)
		}
	})
}
