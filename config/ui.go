package config

import (
	"net/url"
	"strings"
)

// UI configures the hosted self-service pages (package ui): login,
// registration, settings, recovery, verification, error and a landing page
// under /ui/ on the public listener, rendered from the Kratos face's flows.
type UI struct {
	Enabled bool `koanf:"enabled" doc:"Serve the hosted self-service pages under /ui/ on the public listener (the default selfservice.flows.*.ui_url)."`
}

func (u *UI) setDefaults(bool) { u.Enabled = true }

// resolve warns when the pages are off while a flow's ui_url or a return
// URL still points at them: browsers would be sent to a 404.
func (u *UI) resolve(c *Config, w *[]Warning) {
	if u.Enabled {
		return
	}
	base, err := url.Parse(c.Serve.Public.BaseURL)
	if err != nil || base.Host == "" {
		return // reported by serve's validation
	}
	prefix := strings.TrimRight(base.JoinPath("ui").String(), "/") + "/"
	f := c.SelfService.Flows
	for _, kv := range []struct{ key, val string }{
		{"selfservice.flows.login.ui_url", f.Login.UIURL},
		{"selfservice.flows.registration.ui_url", f.Registration.UIURL},
		{"selfservice.flows.settings.ui_url", f.Settings.UIURL},
		{"selfservice.flows.recovery.ui_url", f.Recovery.UIURL},
		{"selfservice.flows.verification.ui_url", f.Verification.UIURL},
		{"selfservice.flows.error.ui_url", f.Error.UIURL},
		{"selfservice.default_browser_return_url", c.SelfService.DefaultBrowserReturnURL},
	} {
		if strings.HasPrefix(kv.val, prefix) {
			*w = append(*w, Warning{Key: kv.key, Message: "points at the hosted pages (" + kv.val + ") but ui.enabled is false; set it to your own UI"})
		}
	}
}
