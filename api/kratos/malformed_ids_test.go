package kratos_test

import (
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/courier/couriertest"
)

// TestMalformedIDs sends ids that are not UUIDs — non-ASCII, invalid UTF-8
// (in the URL), NUL — where the Kratos self-service face takes an id from a
// client, on every backend. MariaDB once answered 500 (a collation mix with
// its ASCII id columns) to {"identity_id":"é"} on /admin/recovery/code and
// /link; each is now Kratos' 404 or 400, never 500.
func TestMalformedIDs(t *testing.T) {
	t.Parallel()
	onMailBackends(t, nil, func(t *testing.T, e *ssEnv, _ *couriertest.SMTPServer) {
		admin := e.native(t)
		for _, bad := range []string{"é", "a\x00b", "00000000-0000-0000-0000-00000000000é", "' OR '1'='1", "日本語"} {
			for _, path := range []string{"/admin/recovery/code", "/admin/recovery/link"} {
				r := admin.do("POST", path, map[string]any{"identity_id": bad})
				if r.code != 404 {
					t.Errorf("POST %s {identity_id: %q}: %d, want 404: %s", path, bad, r.code, r.body)
				}
				if m := r.json(t); m["error"] == nil {
					t.Errorf("POST %s: not a Kratos error: %s", path, r.body)
				}
			}
		}
		for _, bad := range []string{"é", "%FF%FE", "a%00b", "00000000-0000-0000-0000-00000000000%C3%A9"} {
			for _, path := range []string{
				"/self-service/login/flows?id=" + bad,
				"/self-service/registration/flows?id=" + bad,
				"/self-service/recovery/flows?id=" + bad,
				"/self-service/verification/flows?id=" + bad,
				"/self-service/settings/flows?id=" + bad,
				"/self-service/errors?id=" + bad,
			} {
				if bad == "é" {
					path = path[:len(path)-len(bad)] + url.QueryEscape(bad)
				}
				r := admin.do("GET", path, nil)
				if r.code < 400 || r.code >= 500 {
					t.Errorf("GET %s: %d: %s", path, r.code, r.body)
				}
				if m := r.json(t); m["error"] == nil {
					t.Errorf("GET %s: not a Kratos error: %s", path, r.body)
				}
			}
		}
	})
}
