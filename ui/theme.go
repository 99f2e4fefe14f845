package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/config"
)

// theme is the brand the pages show (config ui.*), resolved once.
type theme struct {
	Product   string
	Logo      string // URL of the logo image, "" for the name as text
	CustomCSS string // URL of the operator's stylesheet, ""
	css       []byte // the generated theme stylesheet (colours)
	// Origins the Content-Security-Policy adds for the logo and the
	// custom stylesheet (http ones only for the logo: https is allowed).
	styleOrigin, imgOrigin string
}

func newTheme(c config.UI) theme {
	t := theme{Product: c.ProductName, Logo: c.LogoURL, CustomCSS: c.CustomCSSURL}
	if t.Product == "" {
		t.Product = "Latchkey"
	}
	if u, err := url.Parse(c.CustomCSSURL); err == nil && c.CustomCSSURL != "" {
		t.styleOrigin = u.Scheme + "://" + u.Host
	}
	if u, err := url.Parse(c.LogoURL); err == nil && u.Scheme == "http" {
		t.imgOrigin = u.Scheme + "://" + u.Host
	}
	t.css = themeCSS(c.PrimaryColor)
	return t
}

// themeCSS sets the accent colours from the primary colour: buttons and
// light-mode links use it (config checks white on it reaches 4.5:1, so it
// reads on the white card too); dark-mode links use it lightened until it
// reaches 4.5:1 on the dark card.
func themeCSS(primary string) []byte {
	r, g, b, ok := config.ParseHexColor(primary)
	if !ok {
		r, g, b = 0x2f, 0x5b, 0xd3
	}
	dark := mix(r, g, b, 0, 0, 0, 0.2)
	// The dark card is #1b1f24 (style.css).
	light := [3]uint8{r, g, b}
	for i := 1; i <= 20 && config.ContrastRatio(light[0], light[1], light[2], 0x1b, 0x1f, 0x24) < 4.5; i++ {
		light = mix(r, g, b, 255, 255, 255, float64(i)*0.05)
	}
	return fmt.Appendf(nil, ":root { --accent: %s; --accent-dark: %s; --link: %s; }\n"+
		"@media (prefers-color-scheme: dark) { :root { --link: %s; } }\n",
		hexColor([3]uint8{r, g, b}), hexColor(dark), hexColor([3]uint8{r, g, b}), hexColor(light))
}

func mix(r, g, b, r2, g2, b2 uint8, f float64) [3]uint8 {
	m := func(a, z uint8) uint8 { return uint8(float64(a)*(1-f) + float64(z)*f + 0.5) }
	return [3]uint8{m(r, r2), m(g, g2), m(b, b2)}
}

func hexColor(c [3]uint8) string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }

// asset is an embedded file served with a content hash: its URL carries
// ?v=<hash>, so browsers keep it for a year, and ETag answers revalidation.
type asset struct {
	body        []byte
	contentType string
	etag        string
	version     string
}

func newAsset(body []byte, contentType string) asset {
	sum := sha256.Sum256(body)
	v := hex.EncodeToString(sum[:8])
	return asset{body: body, contentType: contentType, etag: `"` + v + `"`, version: v}
}

func (a asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("ETag", a.etag)
	if r.URL.Query().Get("v") == a.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "public, max-age=300")
	}
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(a.body)))
}
