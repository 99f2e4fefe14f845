package kratos_test

import (
	"strings"
	"testing"
)

// TestLoginFlowFetchNeedsNoSession pins Kratos' getLoginFlow: a login flow
// is fetched by id without looking at the caller's session, also once it
// has succeeded (an SDK client fetches the flow it just finished, holding no
// token) and for a refresh flow (rendered with the flow's own identity).
// Found by e2e/kratos-sdk: the fetch of a finished native flow answered 401.
func TestLoginFlowFetchNeedsNoSession(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		tok := e.registerNative(t, c, "olga@example.com", "correct horse battery")

		anon := e.native(t)
		id := flowID(t, anon.do("GET", "/self-service/login/api", nil))
		must(t, anon.do("POST", "/self-service/login?flow="+id, map[string]any{"method": "password",
			"identifier": "olga@example.com", "password": "correct horse battery"}), 200)
		got := anon.do("GET", "/self-service/login/flows?id="+id, nil)
		must(t, got, 200)
		if got.json(t)["id"] != id {
			t.Errorf("fetched %s", got.body)
		}

		// A refresh flow, created with the session, fetched without it: the
		// hidden identifier is the flow's identity's.
		c.token = tok
		refresh := flowID(t, c.do("GET", "/self-service/login/api?refresh=true", nil))
		with := c.do("GET", "/self-service/login/flows?id="+refresh, nil)
		must(t, with, 200)
		without := anon.do("GET", "/self-service/login/flows?id="+refresh, nil)
		must(t, without, 200)
		if !strings.Contains(string(without.body), `"value":"olga@example.com"`) {
			t.Errorf("refresh flow fetched without a session lacks the identifier: %s", without.body)
		}
		if string(with.body) != string(without.body) {
			t.Errorf("the refresh flow renders differently with and without the session:\n%s\n%s", with.body, without.body)
		}
	})
}
