package config

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// UI configures the hosted self-service pages (package ui): login,
// registration, settings, recovery, verification, error and a landing page
// under /ui/ on the public listener, rendered from the Kratos face's flows.
type UI struct {
	Enabled bool `koanf:"enabled" doc:"Serve the hosted self-service pages under /ui/ on the public listener (the default selfservice.flows.*.ui_url)."`
	// Theme: the pages follow the system's light or dark preference
	// (prefers-color-scheme) with these brand settings.
	ProductName  string `koanf:"product_name" doc:"Name shown on the hosted pages (header and window title)."`
	LogoURL      string `koanf:"logo_url" doc:"Logo shown above the page title: an https URL (http only for localhost); empty shows the product name as text."`
	PrimaryColor string `koanf:"primary_color" doc:"Colour of buttons and links as #rrggbb; white text on it must reach a contrast of 4.5:1 (WCAG AA)."`
	CustomCSSURL string `koanf:"custom_css_url" doc:"Stylesheet loaded after the built-in one, to restyle the pages: an https URL (http only for localhost); its origin is added to the pages' Content-Security-Policy style-src."`
}

func (u *UI) setDefaults(bool) {
	u.Enabled = true
	u.ProductName = "Latchkey"
	u.PrimaryColor = "#2f5bd3"
}

func (u *UI) validate(_ *Config, p *Problems) {
	if strings.TrimSpace(u.ProductName) == "" {
		p.add("ui.product_name", "must not be empty: set the name your users know the product by")
	} else if len(u.ProductName) > 80 {
		p.add("ui.product_name", "is %d bytes long; keep it to 80 at most", len(u.ProductName))
	}
	for _, kv := range []struct{ key, val string }{{"ui.logo_url", u.LogoURL}, {"ui.custom_css_url", u.CustomCSSURL}} {
		if kv.val == "" {
			continue
		}
		if err := assetURL(kv.val); err != nil {
			p.add(kv.key, "%q %v", kv.val, err)
		}
	}
	r, g, b, ok := ParseHexColor(u.PrimaryColor)
	switch {
	case !ok:
		p.add("ui.primary_color", "%q is not a colour as #rrggbb (for example #2f5bd3)", u.PrimaryColor)
	case ContrastRatio(r, g, b, 255, 255, 255) < 4.5:
		p.add("ui.primary_color", "%s gives white button text a contrast of %.2f:1; choose a darker colour (WCAG AA needs 4.5:1)",
			u.PrimaryColor, ContrastRatio(r, g, b, 255, 255, 255))
	}
}

// assetURL checks a logo or stylesheet URL: absolute https, or http on a
// loopback host (development).
func assetURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("is not an absolute URL; give https://host/path")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || h == "127.0.0.1" || h == "::1" {
			return nil
		}
		return fmt.Errorf("must use https (http is allowed for localhost only)")
	}
	return fmt.Errorf("must be an https URL")
}

// ParseHexColor parses #rrggbb.
func ParseHexColor(s string) (r, g, b uint8, ok bool) {
	if len(s) != 7 || s[0] != '#' {
		return 0, 0, 0, false
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return 0, 0, 0, false
	}
	return uint8(v >> 16), uint8(v >> 8), uint8(v), true
}

// ContrastRatio is the WCAG 2 contrast ratio of two sRGB colours.
func ContrastRatio(r1, g1, b1, r2, g2, b2 uint8) float64 {
	l1, l2 := luminance(r1, g1, b1), luminance(r2, g2, b2)
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	return (l1 + 0.05) / (l2 + 0.05)
}

func luminance(r, g, b uint8) float64 {
	lin := func(c uint8) float64 {
		v := float64(c) / 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

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
