package hanko

import (
	"net/http"
	"testing"
)

// TestAdminHostileText sends text no stored value can hold (a NUL
// character, invalid UTF-8) to the admin API's filters and writes: each is
// a 400 (writes) or matches nothing (filters), never a 500 (PostgreSQL
// refuses to compare or store such text), and nothing is written.
func TestAdminHostileText(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, nil)
	const uid = "0b5e3c7a-1d2f-4e6a-8b9c-0d1e2f3a4b5c"
	if r := e.adm(t, "POST", "/users", map[string]any{"id": uid,
		"emails": []map[string]any{{"address": "hostile@example.com", "is_primary": true}}}); r.Code != http.StatusOK {
		t.Fatalf("create user: %d %s", r.Code, r.Body)
	}
	tests := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"audit actor_email NUL", "GET", "/audit_logs?actor_email=a%00b", nil, 200},
		{"audit meta_source_ip invalid UTF-8", "GET", "/audit_logs?meta_source_ip=%FF", nil, 200},
		{"audit q NUL", "GET", "/audit_logs?q=a%00", nil, 200},
		{"audit type NUL", "GET", "/audit_logs?type=a%00", nil, 200},
		{"users email filter NUL", "GET", "/users?email=a%00b@example.com", nil, 200},
		{"add e-mail with NUL", "POST", "/users/" + uid + "/emails", map[string]any{"address": "a\x00b@example.com"}, 400},
		{"add e-mail with a display name", "POST", "/users/" + uid + "/emails", map[string]any{"address": "Eve <eve@example.com>"}, 400},
		{"add e-mail with spaces inside", "POST", "/users/" + uid + "/emails", map[string]any{"address": "a b@example.com"}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.adm(t, tc.method, tc.path, tc.body); r.Code != tc.want {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, r.Code, tc.want, r.Body)
			}
		})
	}
	i, err := e.ids.Get(t.Context(), uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(i.Addresses) != 1 {
		t.Fatalf("addresses %+v, want only the first one", i.Addresses)
	}
}
