package kratos_test

import (
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
)

// TestReturnToPathBoundaries: an allowed return URL with a path allows that
// path and what lies below it, on path segment boundaries — not every path
// that merely starts with the same letters — and no path a browser would
// resolve elsewhere.
func TestReturnToPathBoundaries(t *testing.T) {
	t.Parallel()
	e := newSelfServiceEnv(t, func(_ *config.Config, o *kratos.SelfServiceOptions) {
		o.SelfService.AllowedReturnURLs = []string{"https://*.example.com/app"}
	})
	c := e.native(t)
	for raw, ok := range map[string]bool{
		"https://a.example.com/app":            true,
		"https://a.example.com/app/settings":   true,
		"https://a.example.com/application":    false,
		"https://a.example.com/app-evil":       false,
		"https://a.example.com/app/../admin":   false,
		"https://a.example.com/app/%2e%2e/adm": false,
		"https://a.example.com/app\\..\\adm":   false,
		"https://example.com.evil.net/app":     false,
	} {
		r := c.do("GET", "/self-service/login/api?return_to="+url.QueryEscape(raw), nil)
		switch {
		case ok && r.code != 200:
			t.Errorf("return_to=%s: %d, want 200: %s", raw, r.code, r.body)
		case !ok && r.code != 400:
			t.Errorf("return_to=%s: %d, want 400: %s", raw, r.code, r.body)
		case !ok:
			if id, _ := r.json(t)["error"].(map[string]any)["id"].(string); id != "self_service_flow_return_to_forbidden" {
				t.Errorf("return_to=%s: %s", raw, r.body)
			}
		}
	}
}
