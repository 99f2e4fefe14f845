package kratos

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/cipher"
)

// The fuzz tests of the face's parsers of untrusted input: each must answer
// every input without panicking, and what it accepts must keep the
// property the parser exists for.

// FuzzDecodeBody feeds arbitrary bodies with JSON and form content types
// through decodeBody and formToJSON: a body is either refused with an error
// or decoded into an object that encodes back to JSON.
func FuzzDecodeBody(f *testing.F) {
	seeds := []struct{ ct, body string }{
		{"application/json", `{"method":"password","identifier":"a@b.c","password":"x"}`},
		{"application/json", `{"traits":{"email":"a@b.c"},"traits":{"email":"b"}}`},
		{"application/json", `[1,2]`},
		{"application/json", `null`},
		{"application/json", ``},
		{"application/x-www-form-urlencoded", "method=password&traits.email=a%40b.c&traits.name.first=A"},
		{"application/x-www-form-urlencoded", "traits=x&traits.email=y"},
		{"application/x-www-form-urlencoded", "..=1&.a.=2&a..b=3"},
		{"application/x-www-form-urlencoded", "a=%zz"},
		{"", "a=b"},
		{"text/plain", "x"},
		{"multipart/form-data; boundary=x", "--x\r\n"},
	}
	for _, s := range seeds {
		f.Add(s.ct, []byte(s.body))
	}
	s := &SelfService{maxBody: 1 << 16}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/self-service/login?flow=x", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		m, err := s.decodeBody(httptest.NewRecorder(), r)
		if err != nil {
			if m != nil {
				t.Fatalf("decodeBody returned a body and an error %v", err)
			}
			return
		}
		if m == nil {
			t.Fatal("decodeBody returned neither a body nor an error")
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("decoded body does not encode: %v", err)
		}
	})
}

// FuzzFormToJSON checks that dotted form names always nest into maps
// whatever the names, and that the value of an undotted name is kept.
func FuzzFormToJSON(f *testing.F) {
	f.Add("traits.email", "a@b.c", "traits", "x")
	f.Add(".", "1", "..", "2")
	f.Add("a.b.c", "1", "a.b", "2")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		form := url.Values{}
		form.Add(k1, v1)
		form.Add(k2, v2)
		m := formToJSON(form)
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("formToJSON(%q) does not encode: %v", form, err)
		}
		if !strings.Contains(k1, ".") && k1 != k2 && !strings.HasPrefix(k2, k1+".") {
			if got, _ := m[k1].(string); got != v1 {
				t.Fatalf("formToJSON(%q)[%q] = %v, want %q", form, k1, m[k1], v1)
			}
		}
	})
}

// FuzzCSRFUnmask checks that unmask never panics, that what it returns is
// a token of the right length, and that a masked token always unmasks to
// the token it masks.
func FuzzCSRFUnmask(f *testing.F) {
	tok := bytes.Repeat([]byte{7}, csrfTokenLen)
	c := &csrf{random: rand.Reader}
	f.Add(c.mask(tok))
	f.Add(base64.StdEncoding.EncodeToString(tok))
	f.Add("")
	f.Add("====")
	f.Add(strings.Repeat("A", 88))
	f.Fuzz(func(t *testing.T, sent string) {
		got := unmask(sent)
		if got != nil && len(got) != csrfTokenLen {
			t.Fatalf("unmask(%q) has %d bytes", sent, len(got))
		}
		if len(sent) <= 128 {
			b := []byte(sent)
			for len(b) < csrfTokenLen {
				b = append(b, 0)
			}
			real := b[:csrfTokenLen]
			if u := unmask(c.mask(real)); !bytes.Equal(u, real) {
				t.Fatalf("unmask(mask(%x)) = %x", real, u)
			}
		}
	})
}

// FuzzCSRFVerify runs verify over arbitrary cookie and submitted values: it
// may only accept a submission whose token equals the cookie's.
func FuzzCSRFVerify(f *testing.F) {
	tok := bytes.Repeat([]byte{9}, csrfTokenLen)
	c := &csrf{name: "csrf_token_x", random: rand.Reader}
	f.Add(base64.StdEncoding.EncodeToString(tok), c.mask(tok))
	f.Add(base64.StdEncoding.EncodeToString(tok), "")
	f.Add("", c.mask(tok))
	f.Add("%%%", "x")
	f.Fuzz(func(t *testing.T, cookie, sent string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Cookie", c.name+"="+cookie)
		err := c.verify(r, sent)
		if err == nil {
			ct := c.token(r)
			if ct == nil || !bytes.Equal(unmask(sent), ct) {
				t.Fatalf("verify accepted cookie %q and token %q", cookie, sent)
			}
		}
	})
}

// FuzzSessionCookie feeds arbitrary cookie values to the sealed session
// cookie reader: only a value sealed by the cipher may yield a token.
func FuzzSessionCookie(f *testing.F) {
	ciph, err := cipher.New("0123456789abcdef0123456789abcdef")
	if err != nil {
		f.Fatal(err)
	}
	sc := &sessionCookie{name: "latchkey_session", seal: ciph}
	rec := httptest.NewRecorder()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := sc.issue(rec, "ory_st_token", now.Add(time.Hour), now); err != nil {
		f.Fatal(err)
	}
	good := rec.Result().Cookies()[0].Value
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add("")
	f.Add("AAAA")
	f.Add(strings.Repeat("_", 200))
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", sc.name+"="+value)
		got := sc.token(r)
		if got != "" && value != good {
			// Accepting anything else means the cipher was forged or the
			// encoding is malleable; both would be defects.
			ct, err := base64.RawURLEncoding.DecodeString(value)
			if err != nil {
				t.Fatalf("token %q from an undecodable cookie %q", got, value)
			}
			if _, err := ciph.Decrypt(ct, cookieAAD); err != nil {
				t.Fatalf("token %q from a cookie that does not open: %q", got, value)
			}
		}
	})
}

// FuzzReturnTo checks return_to validation: an accepted URL is absolute,
// keeps an allowed scheme and host, and parses back to the same host.
func FuzzReturnTo(f *testing.F) {
	rt, err := newReturnTo([]string{"https://app.example.com/dashboard", "https://*.example.org/"},
		"https://auth.example.com/", "https://app.example.com/home")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"https://app.example.com/dashboard/x", "/dashboard", "//evil.com/dashboard", "https://evil.com/dashboard",
		"https://a.example.org/", "https://example.org.evil.com/", "https://app.example.com@evil.com/dashboard",
		"/\\evil.com", "javascript:alert(1)", "https://app.example.com:443/dashboard", "https://APP.example.com/dashboard",
		"https://evilexample.org/", "https://auth.example.com/self-service/x", "%2F%2Fevil.com", "https:/\\evil.com/dashboard",
	} {
		f.Add(s)
	}
	allowedHost := func(h string) bool {
		h = strings.ToLower(h)
		return h == "app.example.com" || h == "auth.example.com" || strings.HasSuffix(h, ".example.org")
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := rt.check(raw)
		if err != nil || got == "" {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil {
			t.Fatalf("check(%q) = %q, which does not parse: %v", raw, got, perr)
		}
		if u.Scheme != "https" || !allowedHost(u.Host) || u.User != nil {
			t.Fatalf("check(%q) allowed %q (scheme %q, host %q)", raw, got, u.Scheme, u.Host)
		}
		if strings.ContainsAny(got, "\\") {
			t.Fatalf("check(%q) allowed %q with a backslash", raw, got)
		}
	})
}

// FuzzPageTokens feeds arbitrary tokens and query parameters to the
// pagination parsers: each either refuses with a client error or returns
// values in range.
func FuzzPageTokens(f *testing.F) {
	f.Add(SessionToken{ID: NilUUID, CreatedAt: time.Unix(0, 0)}.Encode(), "1", "250")
	f.Add(encodeMigrationToken(500), "0", "1000")
	f.Add("aWQ9L2NyZWF0ZWRfYXQ9", "-1", "0")
	f.Add("eyJvZmZzZXQiOiItMSJ9", "2147483648", "9999999999999")
	f.Fuzz(func(t *testing.T, tok, page, size string) {
		if st, err := ParseSessionToken(tok); err == nil {
			if st.ID == "" || st.CreatedAt.IsZero() {
				t.Fatalf("ParseSessionToken(%q) = %+v", tok, st)
			}
			if _, err := ParseSessionToken(st.Encode()); err != nil {
				t.Fatalf("ParseSessionToken(Encode(%+v)): %v", st, err)
			}
		}
		for _, q := range []url.Values{
			{"page_token": {tok}, "page_size": {size}},
			{"page": {page}, "per_page": {size}},
			{"page_token": {tok}},
		} {
			if p, err := parseMigrationPage(q); err == nil {
				if p.offset < 0 || p.size < 1 || p.size > sessionPageSizeMax {
					t.Fatalf("parseMigrationPage(%v) = %+v", q, p)
				}
			}
			if p, err := parseIdentityPage(q); err == nil {
				if p.size < 1 || p.size > identityPageSizeMax || p.page < 0 || p.page*p.size > legacyPageItemsMax {
					t.Fatalf("parseIdentityPage(%v) = %+v", q, p)
				}
			}
		}
	})
}
