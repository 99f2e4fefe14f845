package hanko_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/store/storetest"
)

// TestCrossFaceFlowIDs submits each face's flow ids to the other face's
// endpoints on every backend: the flows share kinds (login, registration)
// and one table, yet a flow is only found by the face that started it. The
// answer is the face's own not-found, never a 500.
func TestCrossFaceFlowIDs(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFaces(t, open)
			hanko := f.startFlow(t, "login")
			href := hanko.last.Actions["continue_with_login_identifier"].Href
			u, err := url.Parse(href)
			if err != nil {
				t.Fatal(err)
			}
			_, hankoID, _ := strings.Cut(u.Query().Get("action"), "@")
			kr := call(t, f.kratosPub, nil, "GET", "/self-service/login/api", nil)
			kratosID, _ := kr.json(t)["id"].(string)
			if hankoID == "" || kratosID == "" {
				t.Fatalf("flow ids %q %q", hankoID, kratosID)
			}
			login := map[string]any{"method": "password", "identifier": "a@example.com", "password": "x"}
			for _, tc := range []struct {
				name   string
				res    func() xres
				status int
			}{
				{"Hanko id, Kratos fetch", func() xres {
					return call(t, f.kratosPub, nil, "GET", "/self-service/login/flows?id="+hankoID, nil)
				}, 404},
				{"Hanko id, Kratos submit", func() xres {
					return call(t, f.kratosPub, nil, "POST", "/self-service/login?flow="+hankoID, login)
				}, 404},
				{"Kratos id, Hanko submit", func() xres {
					return call(t, f.hankoPub, nil, "POST", "/login?action=continue_with_login_identifier@"+kratosID,
						map[string]any{"input_data": map[string]any{"email": "a@example.com"}, "csrf_token": hanko.last.CSRFToken})
				}, 403},
				{"malformed id, Hanko submit", func() xres {
					return call(t, f.hankoPub, nil, "POST", "/login?action=continue_with_login_identifier@"+url.QueryEscape("a\x00\xffb"),
						map[string]any{"input_data": map[string]any{}, "csrf_token": hanko.last.CSRFToken})
				}, 403},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if r := tc.res(); r.code != tc.status {
						t.Fatalf("status %d, want %d: %s", r.code, tc.status, r.body)
					}
				})
			}
			// The Hanko flow is untouched and goes on.
			if got := hanko.act("continue_with_login_identifier", map[string]any{"email": "nobody@example.com"}); got == "error" {
				t.Fatalf("the Hanko flow broke: %s", hanko.res.body)
			}
		})
	}
}
