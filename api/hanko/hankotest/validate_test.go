package hankotest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLoadAll(t *testing.T) {
	t.Parallel()
	for _, s := range []Spec{Public, Admin, Flow} {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			New(t, s) // fails on a broken document; skips outside CI without ../shared
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	pub := New(t, Public)
	admin := New(t, Admin)
	jsonH := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name    string
		v       *Validator
		method  string
		path    string
		status  int
		body    string
		wantErr bool
		noRoute bool
	}{
		{name: "valid validate response", v: pub, method: "GET", path: "/sessions/validate", status: 200, body: `{"is_valid":false}`},
		{name: "wrong type", v: pub, method: "GET", path: "/sessions/validate", status: 200, body: `{"is_valid":"no"}`, wantErr: true},
		{name: "undeclared status", v: pub, method: "GET", path: "/.well-known/jwks.json", status: 418, body: `{}`, wantErr: true},
		{name: "error shape", v: admin, method: "GET", path: "/users/7f6c2a8e-0b0e-4b8c-9d4e-2b1f0f3f9a11", status: 404, body: `{"code":404,"message":"user not found"}`},
		{name: "error shape with string code", v: admin, method: "GET", path: "/users/7f6c2a8e-0b0e-4b8c-9d4e-2b1f0f3f9a11", status: 404, body: `{"code":"nope","message":"x"}`, wantErr: true},
		{name: "unknown path", v: admin, method: "GET", path: "/nowhere", status: 200, body: `{}`, wantErr: true, noRoute: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, tc.path, nil)
			err := tc.v.Check(req, tc.status, jsonH, []byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Check() = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.noRoute != errors.Is(err, ErrNoRoute) {
				t.Fatalf("Check() = %v, want ErrNoRoute %v", err, tc.noRoute)
			}
		})
	}
}
