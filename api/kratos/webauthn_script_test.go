package kratos_test

import (
	"crypto/sha512"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/api/kratos"
)

// TestWebAuthnScript checks GET /.well-known/ory/webauthn.js: a JavaScript
// file any origin may load, revalidated by ETag, whose SRI hash is the one
// script nodes carry, defining every function Ory's UIs call.
func TestWebAuthnScript(t *testing.T) {
	t.Parallel()
	e := newSelfServiceEnv(t)
	get := func(method string, hdr ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+kratos.WebAuthnScriptPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	res := get("GET")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	for k, want := range map[string]string{
		"Content-Type":                 "text/javascript; charset=utf-8",
		"Cache-Control":                "public, no-cache",
		"X-Content-Type-Options":       "nosniff",
		"Access-Control-Allow-Origin":  "*",
		"Cross-Origin-Resource-Policy": "cross-origin",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	sum := sha512.Sum512(raw)
	if want := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); kratos.WebAuthnScriptIntegrity() != want {
		t.Errorf("integrity %q does not match the served script (%q)", kratos.WebAuthnScriptIntegrity(), want)
	}
	for _, fn := range []string{"oryPasskeyLogin", "oryPasskeyLoginAutocompleteInit", "oryPasskeyRegistration",
		"oryPasskeySettingsRegistration", "oryWebAuthnLogin", "oryWebAuthnRegistration"} {
		if !strings.Contains(body, fn+": ") {
			t.Errorf("the script does not define %s", fn)
		}
	}
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	cases := []struct {
		name   string
		method string
		hdr    []string
		status int
		body   bool
	}{
		{"revalidation", "GET", []string{"If-None-Match", etag}, http.StatusNotModified, false},
		{"weak revalidation among others", "GET", []string{"If-None-Match", `"other", W/` + etag}, http.StatusNotModified, false},
		{"stale copy", "GET", []string{"If-None-Match", `"0123"`}, http.StatusOK, true},
		{"head", "HEAD", nil, http.StatusOK, false},
	}
	for _, c := range cases {
		r := get(c.method, c.hdr...)
		if r.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, r.StatusCode, c.status)
		}
		b, _ := io.ReadAll(r.Body)
		if (len(b) > 0) != c.body {
			t.Errorf("%s: body of %d bytes", c.name, len(b))
		}
	}
}
