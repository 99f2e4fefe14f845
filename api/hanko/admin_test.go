package hanko

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/core"
)

func TestAdminAPIKey(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, nil)
	tests := []struct {
		name string
		hdr  []string
		want int
	}{
		{name: "missing", want: http.StatusUnauthorized},
		{name: "wrong", hdr: []string{"Authorization: Bearer wrong-key"}, want: http.StatusUnauthorized},
		{name: "basic scheme", hdr: []string{"Authorization: Basic " + testAPIKey}, want: http.StatusUnauthorized},
		{name: "right", hdr: []string{"Authorization: Bearer " + testAPIKey}, want: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := do(t, e.admin, nil, "GET", "/users", nil, tc.hdr...)
			if r.Code != tc.want {
				t.Fatalf("status %d, want %d", r.Code, tc.want)
			}
			if tc.want == http.StatusUnauthorized {
				var er apiError
				r.decode(t, &er)
				if er.Code != 401 || er.Message != "Unauthorized" {
					t.Errorf("body %s", r.Body)
				}
			}
		})
	}
}

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, nil)
	const id = "3b0f6d4e-5a7c-4a53-9f0e-1c2d3e4f5a6b"
	r := e.adm(t, "POST", "/users", map[string]any{
		"id": id,
		"emails": []map[string]any{
			{"address": "Alice@Example.com", "is_primary": true, "is_verified": true},
			{"address": "alice.alt@example.com", "is_primary": false},
		},
		"username":   "alice",
		"created_at": "2024-01-02T03:04:05Z",
	})
	if r.Code != http.StatusOK {
		t.Fatalf("create: %d %s", r.Code, r.Body)
	}
	var u AdminUserJSON
	r.decode(t, &u)
	if u.ID != id || len(u.Emails) != 2 || !u.Emails[0].IsPrimary || !u.Emails[0].IsVerified || u.Emails[0].Address != "alice@example.com" ||
		u.Emails[1].IsPrimary || u.Emails[1].IsVerified || u.Username == nil || u.Username.Username != "alice" ||
		u.CreatedAt.Format("2006") != "2024" {
		t.Fatalf("created user = %s", r.Body)
	}
	for n := 0; n < 3; n++ {
		e.user(t, strings.Repeat("b", n+1)+"@example.com", "")
	}

	t.Run("create negative", func(t *testing.T) {
		cases := []struct {
			name string
			body any
			want int
		}{
			{"duplicate id", map[string]any{"id": id, "emails": []map[string]any{{"address": "x@example.com", "is_primary": true}}}, 409},
			{"duplicate email", map[string]any{"emails": []map[string]any{{"address": "alice@example.com", "is_primary": true}}}, 409},
			{"two primaries", map[string]any{"emails": []map[string]any{{"address": "p1@example.com", "is_primary": true}, {"address": "p2@example.com", "is_primary": true}}}, 400},
			{"bad id", map[string]any{"id": "nope", "emails": []map[string]any{{"address": "y@example.com", "is_primary": true}}}, 400},
			{"bad email", map[string]any{"emails": []map[string]any{{"address": "not-an-email", "is_primary": true}}}, 400},
			{"unknown field", map[string]any{"emails": []map[string]any{}, "password": "x"}, 400},
			{"not json", "{", 400},
		}
		for _, tc := range cases {
			r := e.adm(t, "POST", "/users", tc.body)
			if r.Code != tc.want {
				t.Errorf("%s: %d, want %d: %s", tc.name, r.Code, tc.want, r.Body)
			}
		}
	})

	t.Run("get", func(t *testing.T) {
		if r := e.adm(t, "GET", "/users/"+id, nil); r.Code != 200 || !strings.Contains(string(r.Body), `"alice.alt@example.com"`) {
			t.Errorf("get: %d %s", r.Code, r.Body)
		}
		if r := e.adm(t, "GET", "/users/7f6c2a8e-0b0e-4b8c-9d4e-2b1f0f3f9a11", nil); r.Code != 404 {
			t.Errorf("unknown: %d", r.Code)
		}
		if r := e.adm(t, "GET", "/users/not-a-uuid", nil); r.Code != 400 {
			t.Errorf("bad id: %d", r.Code)
		}
	})

	t.Run("list", func(t *testing.T) {
		r := e.adm(t, "GET", "/users?per_page=2&page=1", nil)
		var list []AdminUserJSON
		r.decode(t, &list)
		if r.Code != 200 || len(list) != 2 || r.Header.Get("X-Total-Count") != "4" || !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
			t.Fatalf("page 1: %d %v %s", r.Code, r.Header, r.Body)
		}
		asc := e.adm(t, "GET", "/users?per_page=4", nil)
		desc := e.adm(t, "GET", "/users?per_page=4&sort_direction=desc", nil)
		var a, d []AdminUserJSON
		asc.decode(t, &a)
		desc.decode(t, &d)
		if len(a) != 4 || len(d) != 4 || a[0].ID != d[3].ID || a[3].ID != d[0].ID {
			t.Fatalf("desc is not the reverse of asc")
		}
		other := a[0].ID
		if other == id {
			other = a[1].ID
		}
		for q, want := range map[string]int{"email=alice.alt@example.com": 1, "email=ALICE@example.com": 1, "email=none@example.com": 0,
			"username=alice": 1, "username=bob": 0, "user_id=" + id: 1, "user_id=" + id + "," + other: 2} {
			r := e.adm(t, "GET", "/users?"+q, nil)
			var l []AdminUserJSON
			r.decode(t, &l)
			if r.Code != 200 || len(l) != want {
				t.Errorf("%s: %d users, want %d", q, len(l), want)
			}
		}
		for _, q := range []string{"page=0", "per_page=x", "sort_direction=up", "user_id=nope"} {
			if r := e.adm(t, "GET", "/users?"+q, nil); r.Code != 400 {
				t.Errorf("%s: %d, want 400", q, r.Code)
			}
		}
	})

	t.Run("patch", func(t *testing.T) {
		r := e.adm(t, "PATCH", "/users/"+id, map[string]any{"name": "Alice A.", "given_name": "Alice", "username": nil,
			"picture": "https://example.com/a.png"})
		var p AdminUserJSON
		r.decode(t, &p)
		if r.Code != 200 || p.Name != "Alice A." || p.GivenName != "Alice" || p.Username != nil || p.Picture != "https://example.com/a.png" {
			t.Fatalf("patch: %d %s", r.Code, r.Body)
		}
		for name, body := range map[string]any{"bad picture": map[string]any{"picture": "ftp://x"},
			"unknown field": map[string]any{"emails": "x"}, "bad username": map[string]any{"username": "no spaces allowed"}} {
			if r := e.adm(t, "PATCH", "/users/"+id, body); r.Code != 400 {
				t.Errorf("%s: %d %s", name, r.Code, r.Body)
			}
		}
	})

	t.Run("metadata", func(t *testing.T) {
		if r := e.adm(t, "GET", "/users/"+id+"/metadata", nil); r.Code != http.StatusNoContent {
			t.Fatalf("empty metadata: %d %s", r.Code, r.Body)
		}
		r := e.adm(t, "PATCH", "/users/"+id+"/metadata", map[string]any{"public_metadata": map[string]any{"role": "admin", "x": 1},
			"private_metadata": map[string]any{"internal": "y"}, "ignored": true})
		if r.Code != 200 || !strings.Contains(string(r.Body), `"role":"admin"`) {
			t.Fatalf("patch metadata: %d %s", r.Code, r.Body)
		}
		r = e.adm(t, "PATCH", "/users/"+id+"/metadata", map[string]any{"public_metadata": map[string]any{"x": nil}, "unsafe_metadata": map[string]any{"b": 2}})
		var m MetadataJSON
		r.decode(t, &m)
		if string(m.PublicMetadata) != `{"role":"admin"}` || string(m.UnsafeMetadata) != `{"b":2}` || string(m.PrivateMetadata) != `{"internal":"y"}` {
			t.Fatalf("merged metadata: %s", r.Body)
		}
		if r := e.adm(t, "PATCH", "/users/"+id+"/metadata", `"string"`); r.Code != 400 {
			t.Errorf("string body: %d", r.Code)
		}
		if r := e.adm(t, "PATCH", "/users/"+id+"/metadata", map[string]any{"public_metadata": []int{1}}); r.Code != 400 {
			t.Errorf("array metadata: %d", r.Code)
		}
		if r := e.adm(t, "PATCH", "/users/"+id+"/metadata", "null"); r.Code != http.StatusNoContent {
			t.Errorf("null clears: %d %s", r.Code, r.Body)
		}
	})

	t.Run("delete", func(t *testing.T) {
		_, is := e.login(t, mustGet(t, e, id))
		if r := e.adm(t, "DELETE", "/users/"+id, nil); r.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.Code, r.Body)
		}
		if r := e.adm(t, "DELETE", "/users/"+id, nil); r.Code != 404 {
			t.Errorf("second delete: %d", r.Code)
		}
		if r := e.pub(t, "GET", "/me", nil, "Authorization: Bearer "+is.Token); r.Code != 401 {
			t.Errorf("session of a deleted user still works: %d", r.Code)
		}
	})
}

func mustGet(t *testing.T, e *pEnv, id string) *core.Identity {
	t.Helper()
	i, err := e.ids.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return i
}
