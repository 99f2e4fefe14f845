package hanko

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/session"
)

func TestJWKSVerifiesIssuedToken(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, nil)
	i := e.user(t, "jwks@example.com", "")
	rec, is := e.login(t, i, AMRPassword)

	r := e.pub(t, "GET", "/.well-known/jwks.json", nil)
	if r.Code != http.StatusOK || r.Header.Get("Cache-Control") != "public, max-age=600" {
		t.Fatalf("jwks: %d %q", r.Code, r.Header.Get("Cache-Control"))
	}
	set, err := jwk.Parse(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse([]byte(is.Token), jwt.WithKeySet(set), jwt.WithAudience("127.0.0.1"), jwt.WithIssuer("http://127.0.0.1:4433/"))
	if err != nil {
		t.Fatalf("token does not verify with the served JWKS: %v", err)
	}
	if sub, _ := tok.Subject(); sub != i.ID {
		t.Errorf("sub = %q, want %q", sub, i.ID)
	}
	var sid string
	if err := tok.Get("session_id", &sid); err != nil || sid != is.Session.ID {
		t.Errorf("session_id = %q (%v), want %q", sid, err, is.Session.ID)
	}
	var email map[string]any
	if err := tok.Get("email", &email); err != nil || email["address"] != "jwks@example.com" || email["is_primary"] != true {
		t.Errorf("email claim = %v (%v)", email, err)
	}
	var amr []any
	if err := tok.Get("amr", &amr); err != nil || len(amr) != 1 || amr[0] != "pwd" {
		t.Errorf("amr = %v (%v)", amr, err)
	}
	// The cookie carries the same token, HttpOnly, SameSite=Strict, Max-Age.
	resp := rec.Result()
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == "hanko" {
			found = true
			if c.Value != is.Token || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge <= 0 || c.Secure {
				t.Errorf("cookie = %+v", c)
			}
		}
	}
	if !found {
		t.Error("no hanko cookie set")
	}
	if rec.Header().Get("X-Session-Retention") != "persistent" || rec.Header().Get("X-Session-Lifetime") == "" {
		t.Errorf("session headers = %v", rec.Header())
	}
}

func TestAuthTokenHeaderAndTemplate(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, func(c *config.Hanko) {
		c.Session.EnableAuthTokenHeader = true
		c.Session.JWTTemplate.Claims = map[string]any{"role": "member", "mail": "{{.User.Email.Address}}"}
	})
	i := e.user(t, "tmpl@example.com", "")
	rec, is := e.login(t, i, AMRPasscode)
	if rec.Header().Get("X-Auth-Token") != is.Token || len(rec.Result().Cookies()) != 0 {
		t.Fatalf("want X-Auth-Token and no cookie, got %v", rec.Header())
	}
	r := e.pub(t, "GET", "/sessions/validate", nil, "Authorization: Bearer "+is.Token)
	var v struct {
		IsValid bool           `json:"is_valid"`
		Claims  map[string]any `json:"claims"`
	}
	r.decode(t, &v)
	if !v.IsValid || v.Claims["role"] != "member" || v.Claims["mail"] != "tmpl@example.com" {
		t.Errorf("validate = %s", r.Body)
	}
}

func TestValidateSession(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, nil)
	i := e.user(t, "validate@example.com", "")
	_, is := e.login(t, i)
	_, revoked := e.login(t, i)
	if err := e.sessions.Revoke(context.Background(), revoked.Session.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		method string
		body   any
		hdr    []string
		valid  bool
		status int
	}{
		{name: "bearer", method: "GET", hdr: []string{"Authorization: Bearer " + is.Token}, valid: true, status: 200},
		{name: "cookie", method: "GET", hdr: []string{"Cookie: hanko=" + is.Token}, valid: true, status: 200},
		{name: "no token", method: "GET", status: 200},
		{name: "garbage token", method: "GET", hdr: []string{"Authorization: Bearer abc.def.ghi"}, status: 200},
		{name: "revoked session", method: "GET", hdr: []string{"Authorization: Bearer " + revoked.Token}, status: 200},
		{name: "tampered token", method: "GET", hdr: []string{"Authorization: Bearer " + is.Token[:len(is.Token)-2] + "xx"}, status: 200},
		{name: "post body", method: "POST", body: map[string]string{"session_token": is.Token}, valid: true, status: 200},
		{name: "post revoked", method: "POST", body: map[string]string{"session_token": revoked.Token}, status: 200},
		{name: "post missing token", method: "POST", body: map[string]string{}, status: 400},
		{name: "post bad json", method: "POST", body: "{", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.pub(t, tc.method, "/sessions/validate", tc.body, tc.hdr...)
			if r.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tc.status, r.Body)
			}
			if tc.status != 200 {
				var er apiError
				r.decode(t, &er)
				if er.Code != tc.status || er.Message == "" {
					t.Errorf("error body %s", r.Body)
				}
				return
			}
			var v validateResponse
			r.decode(t, &v)
			if v.IsValid != tc.valid {
				t.Fatalf("is_valid = %v, want %v: %s", v.IsValid, tc.valid, r.Body)
			}
			if tc.valid && (v.UserID != i.ID || v.Claims == nil || v.Claims.SessionID != is.Session.ID || v.ExpirationTime == nil ||
				v.Claims.Email == nil || v.Claims.Email.Address != "validate@example.com") {
				t.Errorf("validate = %s", r.Body)
			}
			if !tc.valid && strings.Contains(string(r.Body), "claims") {
				t.Errorf("invalid session shows claims: %s", r.Body)
			}
		})
	}
}

func TestMeLogoutAndUsers(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, nil)
	i := e.user(t, "me@example.com", "")
	other := e.user(t, "other@example.com", "")
	_, is := e.login(t, i)
	auth := "Authorization: Bearer " + is.Token

	if r := e.pub(t, "GET", "/me", nil); r.Code != http.StatusUnauthorized {
		t.Fatalf("/me without token: %d", r.Code)
	}
	r := e.pub(t, "GET", "/me", nil, auth)
	var me ProfileJSON
	r.decode(t, &me)
	if r.Code != 200 || me.UserID != i.ID || me.ID != i.ID || len(me.Emails) != 1 || !me.Emails[0].IsPrimary || me.Emails[0].Address != "me@example.com" {
		t.Fatalf("/me = %d %s", r.Code, r.Body)
	}
	r = e.pub(t, "GET", "/users/"+i.ID, nil, "Cookie: hanko="+is.Token)
	if r.Code != 200 || !strings.Contains(string(r.Body), `"email":"me@example.com"`) {
		t.Fatalf("/users/{own id} = %d %s", r.Code, r.Body)
	}
	if r := e.pub(t, "GET", "/users/"+other.ID, nil, auth); r.Code != http.StatusForbidden {
		t.Fatalf("/users/{other id} = %d", r.Code)
	}
	r = e.pub(t, "POST", "/logout", nil, auth)
	if r.Code != http.StatusNoContent {
		t.Fatalf("logout = %d %s", r.Code, r.Body)
	}
	var cleared bool
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		cleared = cleared || (c.Name == "hanko" && c.MaxAge < 0)
	}
	if !cleared {
		t.Error("logout did not expire the cookie")
	}
	// The row is revoked: the JWT, though unexpired, no longer works.
	if r := e.pub(t, "GET", "/me", nil, auth); r.Code != http.StatusUnauthorized {
		t.Fatalf("/me after logout: %d", r.Code)
	}
	if r := e.pub(t, "POST", "/logout", nil, auth); r.Code != http.StatusUnauthorized {
		t.Fatalf("second logout: %d", r.Code)
	}
}

func TestCORSPolicy(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, func(c *config.Hanko) { c.CORS.AllowOrigins = []string{"https://app.example.com"} })
	c := e.h.CORS()
	if !c.Enabled || !c.AllowCredentials || len(c.AllowedOrigins) != 1 {
		t.Fatalf("CORS = %+v", c)
	}
	for _, want := range []string{"X-Auth-Token", "X-Session-Lifetime", "X-Session-Retention"} {
		found := false
		for _, h := range c.ExposedHeaders {
			found = found || h == want
		}
		if !found {
			t.Errorf("%s not exposed", want)
		}
	}
}

// TestClaimsJSONEmail: the email claim as signSession writes it is read
// without encoding it again (one allocation, the EmailClaim; the
// encoding/json round trip took 14), and reads the same as through that
// round trip, which what the direct path does not take (other keys, other
// types, keys in another case) still goes.
func TestClaimsJSONEmail(t *testing.T) {
	c := &session.Claims{Extra: map[string]any{"email": map[string]any{"address": "a@example.com", "is_primary": true, "is_verified": false}}}
	if n := testing.AllocsPerRun(100, func() { claimsJSON(c) }); n > 1 {
		t.Errorf("claimsJSON allocates %.0f times for an email claim, want 1", n)
	}
	roundTrip := func(v any) *EmailClaim {
		b, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		var e EmailClaim
		if json.Unmarshal(b, &e) != nil || e.Address == "" {
			return nil
		}
		return &e
	}
	for _, v := range []any{
		map[string]any{"address": "a@example.com", "is_primary": true, "is_verified": false},
		map[string]any{"address": "a@example.com"},
		map[string]any{"address": ""},
		map[string]any{},
		map[string]any{"Address": "a@example.com", "IS_PRIMARY": true},
		map[string]any{"address": "a@example.com", "extra": 1.0},
		map[string]any{"address": "a@example.com", "is_primary": "yes"},
		map[string]any{"address": 5.0},
		"a@example.com",
		[]any{"a@example.com"},
	} {
		got := claimsJSON(&session.Claims{Extra: map[string]any{"email": v}}).Email
		if want := roundTrip(v); !reflect.DeepEqual(got, want) {
			t.Errorf("email claim %#v: %+v, want %+v", v, got, want)
		}
	}
}

// TestTokenHash: the validate answer's memo is keyed by the token's
// SHA-256, hashed without copying a JWT-sized token to the heap.
func TestTokenHash(t *testing.T) {
	for _, n := range []int{0, 1, 700, 1024, 3000} {
		tok := strings.Repeat("x", n)
		if tokenHash(tok) != sha256.Sum256([]byte(tok)) {
			t.Fatalf("tokenHash of %d bytes is not their SHA-256", n)
		}
	}
	tok := strings.Repeat("e", 700)
	if a := testing.AllocsPerRun(100, func() { tokenHash(tok) }); a != 0 {
		t.Errorf("tokenHash of a 700-byte token: %v allocations, want 0", a)
	}
}
