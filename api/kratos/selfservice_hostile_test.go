package kratos_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/courier/couriertest"
)

// TestSelfServiceHostileBodies submits bodies a hostile client may send to
// every kind of flow on every backend: each is a 4xx in Kratos' format,
// never a 500 (PostgreSQL refuses to compare text with a NUL byte or
// invalid UTF-8, so such values must not reach a query).
func TestSelfServiceHostileBodies(t *testing.T) {
	t.Parallel()
	onMailBackends(t, nil, func(t *testing.T, e *ssEnv, _ *couriertest.SMTPServer) {
		e.registerNative(t, e.native(t), "hostile@example.com", "correct horse battery")
		cases := []struct {
			name string
			kind string
			body any
		}{
			{"password login, NUL in identifier (JSON)", "login", map[string]any{"method": "password", "identifier": "a\x00b@example.com", "password": "x"}},
			{"password login, invalid UTF-8 in identifier (form)", "login", url.Values{"method": {"password"}, "identifier": {"a\xffb@example.com"}, "password": {"x"}}},
			{"password login, NUL in password", "login", map[string]any{"method": "password", "identifier": "hostile@example.com", "password": "correct\x00horse"}},
			{"password login, NUL in a field name", "login", url.Values{"method": {"password"}, "identi\x00fier": {"x"}}},
			{"code login, NUL in identifier", "login", map[string]any{"method": "code", "identifier": "a\x00b@example.com"}},
			{"registration, NUL in traits", "registration", map[string]any{"method": "password", "traits": map[string]any{"email": "n\x00l@example.com"}, "password": "correct horse battery"}},
			{"registration, invalid UTF-8 in traits (form)", "registration", url.Values{"method": {"password"}, "traits.email": {"n\xffl@example.com"}, "password": {"correct horse battery"}}},
			{"recovery, NUL in email", "recovery", map[string]any{"method": "code", "email": "a\x00b@example.com"}},
			{"verification, invalid UTF-8 in email (form)", "verification", url.Values{"method": {"code"}, "email": {"a\xffb@example.com"}}},
			{"array instead of object", "login", []any{map[string]any{"method": "password"}}},
			{"method as array", "login", map[string]any{"method": []any{"password"}, "identifier": "hostile@example.com", "password": "x"}},
			{"identifier as object", "login", map[string]any{"method": "password", "identifier": map[string]any{"$ne": ""}, "password": "x"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := e.native(t).do("GET", "/self-service/"+tc.kind+"/api", nil)
				r := rawPost(t, e, "/self-service/"+tc.kind+"?flow="+flowID(t, f), tc.body)
				if r.code < 400 || r.code >= 500 {
					t.Fatalf("status %d, want a 4xx: %s", r.code, r.body)
				}
				if strings.Contains(string(r.body), "session_token") {
					t.Fatalf("a session was issued: %s", r.body)
				}
			})
		}
	})
}

// TestSelfServiceForeignFlowIDs uses ids that are not this endpoint's flows:
// a Hanko login flow's id on Kratos' login endpoints, a login flow's id on
// the registration endpoint, and malformed ids. Each is a 4xx.
func TestSelfServiceForeignFlowIDs(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		login := flowID(t, c.do("GET", "/self-service/login/api", nil))
		cases := []struct {
			name, method, path string
		}{
			{"login flow on registration submit", "POST", "/self-service/registration?flow=" + login},
			{"login flow on registration fetch", "GET", "/self-service/registration/flows?id=" + login},
			{"login flow on settings fetch", "GET", "/self-service/settings/flows?id=" + login},
			{"malformed id", "POST", "/self-service/login?flow=not-a-uuid"},
			{"NUL in id", "GET", "/self-service/login/flows?id=" + url.QueryEscape("a\x00b")},
			{"invalid UTF-8 in id", "GET", "/self-service/login/flows?id=%ff"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var r resp
				if tc.method == "POST" {
					r = rawPost(t, e, tc.path, map[string]any{"method": "password", "traits": map[string]any{"email": "x@example.com"}, "password": "correct horse battery"})
				} else {
					r = e.native(t).do(tc.method, tc.path, nil)
				}
				if r.code < 400 || r.code >= 500 {
					t.Fatalf("status %d, want a 4xx: %s", r.code, r.body)
				}
			})
		}
	})
}

// rawPost sends body (url.Values as a form, anything else as JSON) as a
// native client would, without checking the answer against the spec: a body
// that cannot be decoded is answered with Kratos' generic error, which the
// spec does not list for 400.
func rawPost(t *testing.T, e *ssEnv, path string, body any) resp {
	t.Helper()
	var rd io.Reader
	ctype := "application/json"
	if form, ok := body.(url.Values); ok {
		rd, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	} else {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, hdr: res.Header, body: raw}
}
