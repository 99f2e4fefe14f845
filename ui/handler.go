package ui

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/config"
)

// Options configure the hosted pages.
type Options struct {
	// Public is the public listener's handler (its mux, without
	// middleware): the pages call the self-service API through it in
	// process. Nil means the mux given to Mount.
	Public http.Handler
	// PublicBaseURL is serve.public.base_url. Its path (for a deployment
	// behind a proxy under a prefix, e.g. https://example.com/auth/, that
	// strips it) prefixes every link and redirect the pages make, but not
	// the mux patterns nor the in-process requests; empty means "/".
	PublicBaseURL string
	// BasePath is where the pages are mounted ("/ui" when empty).
	BasePath string
	// SelfService is the selfservice configuration section: the pages link
	// to registration and recovery only when those flows are enabled.
	SelfService config.SelfService
	// DefaultSchemaID is identity.default_schema_id: the schema whose
	// trait order and identifier titles the pages use when a flow names
	// none ("default" when empty).
	DefaultSchemaID string
	// Theme is the ui section: product name, logo, primary colour and
	// custom stylesheet.
	Theme config.UI
	// Log receives internal errors (slog.Default when nil).
	Log *slog.Logger
}

// Handler serves the hosted pages.
type Handler struct {
	pub    http.Handler
	origin string // the public base URL's scheme and host ("" when unknown)
	prefix string // the public base URL's path without its trailing "/"
	// localPort is the public base URL's port when its host is
	// localhost (serve --dev): a page asked for under a loopback address
	// on that port is sent to localhost (canonical).
	localPort string
	base      string // prefix + BasePath
	register  bool
	recover   bool
	verify    bool
	schemaID  string
	theme     theme
	style     asset // style.css
	themeCSS  asset // the colours of Theme
	log       *slog.Logger
	schemas   schemaMemo // parsed identity schemas (schema)
}

// New returns the pages' handler. It never fails: a missing BasePath is
// "/ui", an unparsable or empty PublicBaseURL means links from "/".
func New(o Options) *Handler {
	h := &Handler{pub: o.Public, log: o.Log,
		register: o.SelfService.Flows.Registration.Enabled,
		recover:  o.SelfService.Flows.Recovery.Enabled,
		verify:   o.SelfService.Flows.Verification.Enabled, schemaID: o.DefaultSchemaID}
	h.theme = newTheme(o.Theme)
	h.style = newAsset(styleCSS, "text/css; charset=utf-8")
	h.themeCSS = newAsset(h.theme.css, "text/css; charset=utf-8")
	if h.schemaID == "" {
		h.schemaID = "default"
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if u, err := url.Parse(o.PublicBaseURL); err == nil {
		h.prefix = strings.TrimRight(u.Path, "/")
		if u.Scheme != "" && u.Host != "" {
			h.origin = u.Scheme + "://" + u.Host
		}
		if strings.EqualFold(u.Hostname(), "localhost") {
			h.localPort = u.Port()
			if h.localPort == "" {
				h.localPort = map[string]string{"http": "80", "https": "443"}[u.Scheme]
			}
		}
	}
	bp := "/" + strings.Trim(o.BasePath, "/")
	if bp == "/" {
		bp = "/ui"
	}
	h.base = h.prefix + bp
	return h
}

// Mount registers the pages on mux under BasePath: GET (and HEAD) of
// login, registration, settings, recovery, verification, error, welcome,
// the landing page at BasePath + "/" and the stylesheet, and POST of
// settings/sessions (signing sessions out); any other path
// below BasePath answers a 404 page. When Options.Public was nil, mux is
// also the handler the pages call. Mount panics, as ServeMux does, when a
// pattern is already registered.
func (h *Handler) Mount(mux *http.ServeMux) {
	if h.pub == nil {
		h.pub = mux
	}
	bp := strings.TrimPrefix(h.base, h.prefix)
	// The listener sees paths without the proxy's prefix.
	for _, k := range []string{"login", "registration", "settings", "recovery", "verification"} {
		mux.HandleFunc("GET "+bp+"/"+k, h.canonical(h.flowPage(k)))
	}
	mux.HandleFunc("POST "+bp+"/settings/sessions", h.revokeSessions)
	mux.HandleFunc("GET "+bp+"/error", h.canonical(h.errorPage))
	mux.HandleFunc("GET "+bp+"/welcome", h.canonical(h.welcome))
	mux.HandleFunc("GET "+bp+"/{$}", h.canonical(h.welcome))
	mux.Handle("GET "+bp+"/static/style.css", h.style)
	mux.Handle("GET "+bp+"/static/theme.css", h.themeCSS)
	mux.HandleFunc(bp+"/", h.notFound)
}

func (h *Handler) public() http.Handler { return h.pub }

// canonical sends a page asked for as http://127.0.0.1:<port>/ui/… (or
// [::1]) to the same page on localhost when the public base URL is
// http://localhost:<port>/ (serve --dev's default): browsers keep cookies
// per host name, so the face's redirects to the base URL would lose the
// anti-CSRF cookie set under the address, and passkeys need the name.
// Other hosts, ports and base URLs are served as they come.
func (h *Handler) canonical(next http.HandlerFunc) http.HandlerFunc {
	if h.localPort == "" {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		host, port, err := net.SplitHostPort(r.Host)
		if ip := net.ParseIP(host); err == nil && port == h.localPort && ip != nil && ip.IsLoopback() {
			redirect(w, r, h.origin+h.prefix+r.URL.RequestURI())
			return
		}
		next(w, r)
	}
}

// page returns the URL path of one of the pages.
func (h *Handler) page(name string) string { return h.base + "/" + name }

// selfService returns the URL path of a self-service endpoint with query q.
func (h *Handler) selfService(path string, q url.Values) string {
	u := h.prefix + "/self-service/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// securityHeaders are set on every page: no script may run, nothing may
// frame the page, and only the stylesheets (the pages' own and
// ui.custom_css_url) and images (https, the TOTP QR code as a data: URL,
// an http ui.logo_url on localhost) load. form-action is left out on purpose: browsers apply it to
// the redirects after a submission, which go to return_to URLs and OIDC
// providers on other origins.
//
// A page that loads the WebAuthn script allows exactly that script tag, by
// its nonce (CSP Level 3 §6.7.2.2); inline code and handlers stay refused.
func (h *Handler) securityHeaders(w http.ResponseWriter, nonce string) {
	hd := w.Header()
	style, img := "'self'", "'self' data: https:"
	if h.theme.styleOrigin != "" {
		style += " " + h.theme.styleOrigin
	}
	if h.theme.imgOrigin != "" {
		img += " " + h.theme.imgOrigin
	}
	csp := "default-src 'none'; style-src " + style + "; img-src " + img + "; frame-ancestors 'none'; base-uri 'none'"
	if nonce != "" {
		csp += "; script-src 'nonce-" + nonce + "'"
	}
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "private, no-cache, no-store, must-revalidate")
}

// render writes p with status; a template failure (a bug) is logged and
// answered 500 without a partial page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, p *page) {
	p.Stylesheet = h.page("static/style.css") + "?v=" + h.style.version
	p.ThemeCSS = h.page("static/theme.css") + "?v=" + h.themeCSS.version
	p.Theme = h.theme
	lang := h.language(w, r)
	p.translate(newTranslator(lang))
	p.Languages = h.languages(r, lang)
	p.Home = h.base + "/"
	p.Nonce = ""
	if p.Script != nil {
		var b [18]byte
		_, _ = rand.Read(b[:])
		p.Nonce = base64.RawURLEncoding.EncodeToString(b[:])
	}
	var buf bytes.Buffer
	if err := pages().ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.ErrorContext(r.Context(), "render page", "error", err, "path", r.URL.Path)
		h.securityHeaders(w, "")
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	h.securityHeaders(w, p.Nonce)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail answers an internal error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "hosted page failed", "error", err, "path", r.URL.Path)
	h.render(w, r, http.StatusInternalServerError, &page{Title: "Something went wrong",
		Error: &errorView{Code: 500, Status: http.StatusText(500), Message: "An internal error occurred. Please try again."},
		Links: []link{{Text: "Start over", Href: h.base + "/"}}})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, &page{Title: "Page not found",
		Error: &errorView{Code: 404, Status: http.StatusText(404), Message: "There is no page at this address."},
		Links: []link{{Text: "Home", Href: h.base + "/"}}})
}

// redirect answers 303 See Other to to.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}
