package hanko

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/hanko/hankotest"
	"github.com/latchkey/latchkey/config"
)

// auditTypes returns the types of the listed entries, oldest first.
func auditTypes(list []AuditLogJSON) []string {
	var out []string
	for n := len(list) - 1; n >= 0; n-- {
		out = append(out, list[n].Type)
	}
	return out
}

func (e *pEnv) auditLogs(t *testing.T, query string) ([]AuditLogJSON, res) {
	t.Helper()
	r := e.adm(t, "GET", "/audit_logs"+query, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("GET /audit_logs%s: %d %s", query, r.Code, r.Body)
	}
	var list []AuditLogJSON
	r.decode(t, &list)
	return list, r
}

// TestAdminAuditLogs drives credential changes through the admin and public
// API and reads them back from GET /audit_logs with every filter.
func TestAdminAuditLogs(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, nil)
	const uid = "6a1e3b52-8f0d-4c8e-9b7a-2d4c6e8f0a1b"
	r := e.adm(t, "POST", "/users", map[string]any{"id": uid,
		"emails": []map[string]any{{"address": "carol@example.com", "is_primary": true, "is_verified": true}}},
		"User-Agent: audit-test/1.0", "X-Forwarded-For: 203.0.113.7")
	if r.Code != http.StatusOK {
		t.Fatalf("create user: %d %s", r.Code, r.Body)
	}
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/users/" + uid + "/password", map[string]any{"password": "a long enough password"}, 200},
		{"PUT", "/users/" + uid + "/password", map[string]any{"password": "short"}, 400},
		{"POST", "/users/" + uid + "/emails", map[string]any{"address": "carol.alt@example.com"}, 201},
		{"DELETE", "/users/" + uid + "/password", nil, 204},
	}
	for _, s := range steps {
		if r := e.adm(t, s.method, s.path, s.body); r.Code != s.want {
			t.Fatalf("%s %s: %d, want %d: %s", s.method, s.path, r.Code, s.want, r.Body)
		}
	}
	// Logging out through the public API is recorded too.
	i, err := e.ids.Get(t.Context(), uid)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := e.login(t, i)
	ck := rec.Result().Cookies()[0]
	if r := e.pub(t, "POST", "/logout", nil, "Cookie: "+ck.Name+"="+ck.Value); r.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Code, r.Body)
	}
	other := e.user(t, "dave@example.com", "")
	if r := e.adm(t, "DELETE", "/users/"+other.ID, nil); r.Code != http.StatusNoContent {
		t.Fatalf("delete user: %d %s", r.Code, r.Body)
	}

	all, r := e.auditLogs(t, "")
	want := []string{"user_created", "password_changed", "password_set_failed", "email_created",
		"password_deleted", "user_logged_out", "user_deleted"}
	if got := auditTypes(all); !slices.Equal(got, want) {
		t.Fatalf("types = %v\nwant %v", got, want)
	}
	if r.Header.Get("X-Total-Count") != "7" {
		t.Fatalf("X-Total-Count = %q", r.Header.Get("X-Total-Count"))
	}
	created := all[len(all)-1]
	if created.ActorUserID != uid || created.ActorEmail != "carol@example.com" || created.UserAgent != "audit-test/1.0" ||
		created.RequestID == "" || created.SourceIP == "" {
		t.Fatalf("user_created entry = %+v", created)
	}
	if failed := all[len(all)-3]; failed.Type != "password_set_failed" || failed.Error == "" {
		t.Fatalf("failed entry = %+v, want an error text", failed)
	}

	t.Run("filters", func(t *testing.T) {
		mid := all[2].CreatedAt // password_deleted
		cases := []struct {
			name, query string
			want        []string
		}{
			{"type", "?type=password_changed", []string{"password_changed"}},
			{"types repeated", "?type=user_created&type=user_deleted", []string{"user_created", "user_deleted"}},
			{"types comma", "?type=user_created,user_deleted", []string{"user_created", "user_deleted"}},
			{"actor user", "?actor_user_id=" + other.ID, []string{"user_deleted"}},
			{"actor email", "?actor_email=carol.alt@example.com", []string{"email_created"}},
			{"search", "?q=CAROL.ALT", []string{"email_created"}},
			{"search user id", "?q=" + uid[:8], want[:6]},
			{"start time", "?start_time=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), want[4:]},
			{"end time", "?end_time=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), want[:5]},
			{"unknown type", "?type=webauthn_credential_updated", nil},
		}
		for _, tc := range cases {
			list, _ := e.auditLogs(t, tc.query)
			if got := auditTypes(list); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	})

	t.Run("paging", func(t *testing.T) {
		p1, r := e.auditLogs(t, "?per_page=3")
		p3, _ := e.auditLogs(t, "?per_page=3&page=3")
		if len(p1) != 3 || p1[0].ID != all[0].ID || len(p3) != 1 || p3[0].ID != all[6].ID {
			t.Fatalf("pages: %d, %d entries", len(p1), len(p3))
		}
		if l := r.Header.Get("Link"); !strings.Contains(l, `page=2&per_page=3>; rel="next"`) || !strings.Contains(l, `page=3&per_page=3>; rel="last"`) {
			t.Fatalf("Link = %s", l)
		}
		if p, _ := e.auditLogs(t, "?page=9"); len(p) != 0 {
			t.Fatalf("page past the end: %d entries", len(p))
		}
	})

	t.Run("bad queries", func(t *testing.T) {
		// Known spec drift: openapi-admin.yaml lists only 200 and 500 for
		// GET /audit_logs, but Hanko's server answers a query it cannot
		// bind with 400 and a missing API key with 401, in its error shape;
		// so these are checked by hand, not against the document.
		for _, q := range []string{"?page=0", "?per_page=x", "?actor_user_id=nope", "?start_time=yesterday",
			"?end_time=2022-13-01T00:00:00Z",
			"?start_time=2024-02-01T00:00:00Z&end_time=2024-01-01T00:00:00Z"} {
			r := do(t, e.admin, nil, "GET", "/audit_logs"+q, nil, "Authorization: Bearer "+testAPIKey)
			var body apiError
			r.decode(t, &body)
			if r.Code != http.StatusBadRequest || body.Code != 400 || body.Message == "" {
				t.Errorf("%s: %d %s", q, r.Code, r.Body)
			}
		}
		if r := do(t, e.admin, nil, "GET", "/audit_logs", nil); r.Code != http.StatusUnauthorized || !strings.Contains(string(r.Body), `"code":401`) {
			t.Errorf("without the API key: %d", r.Code)
		}
	})
}

// TestAuditLogSwitches checks hanko.audit_log.enabled and mask_email.
func TestAuditLogSwitches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		mod   func(c *config.Hanko)
		count int
		email string
	}{
		{"masked", func(c *config.Hanko) { c.AuditLog.MaskEmail = true }, 1, "e***@example.com"},
		{"disabled", func(c *config.Hanko) { c.AuditLog.Enabled = false }, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newPEnv(t, tc.mod)
			if r := e.adm(t, "POST", "/users", map[string]any{"emails": []map[string]any{{"address": "erin@example.com", "is_primary": true}}}); r.Code != 200 {
				t.Fatalf("create: %d %s", r.Code, r.Body)
			}
			list, _ := e.auditLogs(t, "")
			if len(list) != tc.count || (tc.count > 0 && list[0].ActorEmail != tc.email) {
				t.Fatalf("entries = %+v", list)
			}
		})
	}
}

// TestFlowAuditLogs checks that logins, failed logins and registrations
// through the Flow API show up in the admin audit log.
func TestFlowAuditLogs(t *testing.T) {
	t.Parallel()
	e := newFEnvWith(t, nil, func(o *Options) { o.AdminAPIKey = testAPIKey })
	adm := http.NewServeMux()
	e.h.MountAdmin(adm)
	admin := api.Chain(adm, api.WithRequestID())
	v := hankotest.New(t, hankotest.Admin)

	u := e.createUser(t, "frank@example.com", "frank's password")
	if r := passwordLogin(t, e.client(t), "frank@example.com", "not frank's password"); r.Name != stateLoginPassword {
		t.Fatalf("wrong password: state %s", r.Name)
	}
	if r := passwordLogin(t, e.client(t), "frank@example.com", "frank's password"); r.Name != stateSuccess {
		t.Fatalf("login: state %s", r.Name)
	}

	r := do(t, admin, v, "GET", "/audit_logs?actor_user_id="+u.ID, nil, "Authorization: Bearer "+testAPIKey)
	var list []AuditLogJSON
	r.decode(t, &list)
	got := auditTypes(list)
	if !slices.Contains(got, "password_login_failed") || !slices.Contains(got, "password_login_succeeded") {
		t.Fatalf("flow audit types = %v", got)
	}
	for _, l := range list {
		if l.Type == "password_login_failed" && l.Error == "" {
			t.Fatalf("failed login entry without error: %+v", l)
		}
	}
}
