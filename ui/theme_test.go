package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/config"
)

// TestThemeFromConfig: ui.* keys reach the pages, the CSP names the custom
// stylesheet's origin and nothing else new, and theme.css carries the
// colours.
func TestThemeFromConfig(t *testing.T) {
	t.Parallel()
	h := New(Options{PublicBaseURL: "http://127.0.0.1:4433/", Theme: config.UI{Enabled: true, ProductName: "Acme <ID>",
		LogoURL: "https://cdn.example.com/logo.svg", PrimaryColor: "#7a1f5c", CustomCSSURL: "https://cdn.example.com/brand.css"}})
	mux := http.NewServeMux()
	h.Mount(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/nowhere", nil))
	body := rec.Body.String()
	for _, w := range []string{
		`<title>Page not found · Acme &lt;ID&gt;</title>`,
		`<img src="https://cdn.example.com/logo.svg" alt="Acme &lt;ID&gt;">`,
		`<link rel="stylesheet" href="https://cdn.example.com/brand.css">`,
		`<link rel="stylesheet" href="/ui/static/theme.css?v=` + h.themeCSS.version + `">`,
		`<meta name="color-scheme" content="light dark">`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %s:\n%s", w, body)
		}
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'self' https://cdn.example.com;") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP = %q", csp)
	}

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/static/theme.css?v="+h.themeCSS.version, nil))
	if css := rec.Body.String(); !strings.Contains(css, "--accent: #7a1f5c;") || !strings.Contains(css, "prefers-color-scheme: dark") {
		t.Errorf("theme.css = %s", css)
	}
}

// TestDarkLinkContrast: the dark-mode link colour reaches 4.5:1 on the
// dark card for any primary colour config accepts.
func TestDarkLinkContrast(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"#2f5bd3", "#000000", "#7a1f5c", "#005a00", "#b42318"} {
		css := string(themeCSS(c))
		i := strings.LastIndex(css, "--link: ")
		r, g, b, ok := config.ParseHexColor(css[i+8 : i+15])
		if !ok {
			t.Fatalf("%s: no dark link colour in %s", c, css)
		}
		if got := config.ContrastRatio(r, g, b, 0x1b, 0x1f, 0x24); got < 4.5 {
			t.Errorf("%s: dark link %s has contrast %.2f", c, css[i+8:i+15], got)
		}
	}
}

// TestAssetCaching: versioned asset URLs are immutable for a year, and a
// revalidation with the ETag answers 304.
func TestAssetCaching(t *testing.T) {
	t.Parallel()
	h := testHandler()
	mux := http.NewServeMux()
	h.Mount(mux)
	tests := []struct {
		path, inm string
		status    int
		cache     string
	}{
		{"/ui/static/style.css?v=" + h.style.version, "", 200, "public, max-age=31536000, immutable"},
		{"/ui/static/style.css", "", 200, "public, max-age=300"},
		{"/ui/static/style.css?v=" + h.style.version, h.style.etag, 304, "public, max-age=31536000, immutable"},
		{"/ui/static/theme.css?v=" + h.themeCSS.version, "", 200, "public, max-age=31536000, immutable"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", tt.path, nil)
		if tt.inm != "" {
			req.Header.Set("If-None-Match", tt.inm)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != tt.status || rec.Header().Get("Cache-Control") != tt.cache || rec.Header().Get("ETag") == "" {
			t.Errorf("GET %s (If-None-Match %q) = %d, Cache-Control %q, ETag %q", tt.path, tt.inm, rec.Code,
				rec.Header().Get("Cache-Control"), rec.Header().Get("ETag"))
		}
		if tt.status == 200 && rec.Header().Get("Content-Type") != "text/css; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", tt.path, rec.Header().Get("Content-Type"))
		}
	}
}
