package kratostest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	v := New(t)
	h := http.Header{"Content-Type": []string{"application/json"}}
	cases := []struct {
		name, method, path string
		status             int
		body               string
		ok                 bool
	}{
		{"error envelope", "GET", "/admin/identities/x", 404, `{"error":{"code":404,"status":"Not Found","message":"The requested resource could not be found"}}`, true},
		{"envelope without message", "GET", "/admin/identities/x", 404, `{"error":{"code":404}}`, false},
		{"schema list", "GET", "/schemas", 200, `[{"id":"default","schema":{}}]`, true},
		{"schema list wrong", "GET", "/schemas", 200, `[{"id":"default"}]`, false},
		{"unknown path", "GET", "/nope", 200, `{}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := v.Check(httptest.NewRequest(tc.method, tc.path, nil), tc.status, h, []byte(tc.body))
			if (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
