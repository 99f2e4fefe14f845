package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The settings page lists the account's sessions ("Sessions and devices"):
// the current one from GET /sessions/whoami, the others from GET /sessions,
// each with a button that signs it out, and "Sign out everywhere else".
// The buttons post a plain form to POST <base>/settings/sessions, which
// calls the Kratos face's own DELETE /sessions/{id} or DELETE /sessions
// with the browser's cookies and sends the browser back to the settings
// flow it came from. Kratos serves those DELETEs without an anti-CSRF
// token (a cross-site page cannot send a DELETE without a CORS preflight);
// a form post can be sent by any site, so the form carries the pages' own
// token, which must equal the latchkey_ui_csrf cookie (HttpOnly,
// SameSite=Strict; __Host- prefixed on https), and a browser's
// Sec-Fetch-Site or Origin that names another site is refused as well.

// sessionsView is the "Sessions and devices" section of the settings page.
type sessionsView struct {
	Action string // where the buttons post
	CSRF   string // the pages' anti-CSRF token
	Flow   string // the settings flow to come back to
	// Notice says what the last action did ("sessions" query parameter).
	Notice *message
	// Current is this browser's session; Others the account's other
	// active sessions, as the face lists them.
	Current *sessionItem
	Others  []sessionItem
	tr      translator
}

// sessionItem is one session of the list.
type sessionItem struct {
	ID     string
	Device string // "Chrome · Linux", or the user agent as sent
	// Details are the IP address, location, sign-in and expiry times and
	// the full user agent, where known.
	Details []detail
}

// sessionNotices are the outcomes of POST <base>/settings/sessions, by the
// value it puts into the settings URL's "sessions" parameter.
var sessionNotices = map[string]message{
	"revoked":        {Class: "success", Text: "The session was signed out."},
	"revoked_others": {Class: "success", Text: "All your other sessions were signed out."},
	"gone":           {Class: "info", Text: "That session was already signed out."},
}

// uiCSRFCookie returns the name of the pages' anti-CSRF cookie: with the
// __Host- prefix on https, so that no other host can plant one.
func (h *Handler) uiCSRFCookie() string {
	if strings.HasPrefix(h.origin, "https://") {
		return "__Host-latchkey_ui_csrf"
	}
	return "latchkey_ui_csrf"
}

// uiCSRFToken returns the request's pages anti-CSRF token, setting a new
// cookie on w when it has none (or a malformed one).
func (h *Handler) uiCSRFToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.uiCSRFCookie()); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(b) == 32 {
			return c.Value
		}
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	secure := r.TLS != nil || strings.HasPrefix(h.origin, "https://")
	path := h.base + "/"
	if strings.HasPrefix(h.uiCSRFCookie(), "__Host-") {
		path = "/"
	}
	http.SetCookie(w, &http.Cookie{Name: h.uiCSRFCookie(), Value: tok, Path: path, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure})
	return tok
}

// uiCSRFValid reports whether a form post carries the pages' anti-CSRF
// token of its cookie, and does not come from another site.
func (h *Handler) uiCSRFValid(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != h.origin {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	c, err := r.Cookie(h.uiCSRFCookie())
	if err != nil || c.Value == "" {
		return false
	}
	sent := r.PostFormValue("csrf_token")
	return sent != "" && subtle.ConstantTimeCompare([]byte(sent), []byte(c.Value)) == 1
}

// sessionsSection builds the settings page's session list for the
// settings flow flowID; nil when the face does not answer with the
// sessions (the rest of the page still works).
func (h *Handler) sessionsSection(w http.ResponseWriter, r *http.Request, flowID string) *sessionsView {
	me, err := h.call(r, "/sessions/whoami")
	if err != nil || me.status != http.StatusOK {
		return nil
	}
	var cur sessionJSON
	if me.decode(&cur) != nil {
		return nil
	}
	rp, err := h.call(r, "/sessions")
	if err != nil {
		h.log.ErrorContext(r.Context(), "list sessions", "error", err)
		return nil
	}
	var others []sessionJSON
	if rp.status != http.StatusOK || rp.decode(&others) != nil {
		h.log.WarnContext(r.Context(), "list sessions", "status", rp.status)
		return nil
	}
	v := &sessionsView{Action: h.page("settings/sessions"), CSRF: h.uiCSRFToken(w, r), Flow: flowID}
	if n, ok := sessionNotices[r.URL.Query().Get("sessions")]; ok {
		v.Notice = &n
	}
	c := newSessionItem(cur)
	v.Current = &c
	for _, s := range others {
		if s.ID != cur.ID {
			v.Others = append(v.Others, newSessionItem(s))
		}
	}
	return v
}

func newSessionItem(s sessionJSON) sessionItem {
	var d deviceJSON
	if len(s.Devices) > 0 {
		d = s.Devices[len(s.Devices)-1] // the latest
	}
	it := sessionItem{ID: s.ID, Device: deviceName(d.UserAgent)}
	for _, dt := range []detail{{"IP address", d.IPAddress}, {"Location", d.Location},
		{"Signed in", formatTime(s.AuthenticatedAt)}, {"Expires", formatTime(s.ExpiresAt)}, {"Browser", d.UserAgent}} {
		if dt.Value != "" {
			it.Details = append(it.Details, dt)
		}
	}
	return it
}

// formatTime shows an RFC 3339 time as "2006-01-02 15:04 UTC"; the value
// as sent when it does not parse.
func formatTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04") + " UTC"
}

// Browsers and systems a user agent names, in the order they must be
// tried (Edge and Opera say "Chrome" too, Chrome says "Safari").
var (
	browserNames = []struct {
		re   *regexp.Regexp
		name string
	}{
		{regexp.MustCompile(`Edg(e|A|iOS)?/`), "Edge"},
		{regexp.MustCompile(`OPR/|Opera`), "Opera"},
		{regexp.MustCompile(`Firefox/|FxiOS/`), "Firefox"},
		{regexp.MustCompile(`Chrom(e|ium)/|CriOS/`), "Chrome"},
		{regexp.MustCompile(`Safari/`), "Safari"},
	}
	systemNames = []struct {
		re   *regexp.Regexp
		name string
	}{
		{regexp.MustCompile(`Android`), "Android"},
		{regexp.MustCompile(`iPhone|iPad|iPod`), "iOS"},
		{regexp.MustCompile(`Windows`), "Windows"},
		{regexp.MustCompile(`Mac OS X|Macintosh`), "macOS"},
		{regexp.MustCompile(`CrOS`), "ChromeOS"},
		{regexp.MustCompile(`Linux`), "Linux"},
	}
)

// deviceName names the browser and system of a user agent ("Chrome ·
// Linux"); the user agent itself when it names neither, "" for none.
func deviceName(ua string) string {
	var parts []string
	for _, b := range browserNames {
		if b.re.MatchString(ua) {
			parts = append(parts, b.name)
			break
		}
	}
	for _, s := range systemNames {
		if s.re.MatchString(ua) {
			parts = append(parts, s.name)
			break
		}
	}
	if len(parts) == 0 {
		return ua
	}
	return strings.Join(parts, " · ")
}

// sessionIDRe matches what may be a session id (a UUID); anything else
// is never sent to the face, where it could name another path.
var sessionIDRe = regexp.MustCompile(`^[0-9A-Za-z-]{1,64}$`)

// revokeSessions serves POST <base>/settings/sessions: "revoke" names one
// of the account's other sessions, or "others" for all of them. The
// browser goes back to the settings flow ("flow") with the outcome.
func (h *Handler) revokeSessions(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, r, http.StatusBadRequest, &page{Title: "Something went wrong",
			Error: &errorView{Code: 400, Status: http.StatusText(400), Message: "The request could not be completed."},
			Links: []link{{Text: "Account settings", Href: h.page("settings")}}})
		return
	}
	if !h.uiCSRFValid(r) {
		p := h.errorView(genericErrorJSON{ID: "security_csrf_violation", Code: 403}, http.StatusForbidden)
		p.Links = []link{{Text: "Account settings", Href: h.page("settings")}, {Text: "Home", Href: h.base + "/"}}
		h.render(w, r, http.StatusForbidden, p)
		return
	}
	back := func(outcome string) {
		q := url.Values{}
		if f := r.PostFormValue("flow"); f != "" {
			q.Set("flow", f)
		}
		if outcome != "" {
			q.Set("sessions", outcome)
		}
		to := h.page("settings")
		if len(q) > 0 {
			to += "?" + q.Encode()
		}
		redirect(w, r, to)
	}
	id := r.PostFormValue("revoke")
	path, outcome := "/sessions/"+url.PathEscape(id), "revoked"
	if id == "others" {
		path, outcome = "/sessions", "revoked_others"
	}
	if id == "" {
		back("")
		return
	}
	if !sessionIDRe.MatchString(id) {
		back("gone") // not a session id: nothing to sign out
		return
	}
	rp, err := h.callMethod(r, http.MethodDelete, path)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch {
	case rp.status < 300:
		back(outcome)
	case rp.status == http.StatusUnauthorized:
		redirect(w, r, h.selfService("login/browser", url.Values{"return_to": {h.absoluteSelfService(r, "settings/browser")}}))
	case rp.status == http.StatusNotFound || rp.status == http.StatusBadRequest:
		// Already signed out, not one of the account's sessions, not a
		// session id at all, or the current session (which logout ends).
		back("gone")
	default:
		e := rp.errorBody()
		p := h.errorView(e.Error, rp.status)
		p.Links = []link{{Text: "Account settings", Href: h.page("settings")}, {Text: "Home", Href: h.base + "/"}}
		h.render(w, r, rp.status, p)
	}
}

// translate puts the section's strings into t's language.
func (v *sessionsView) translate(t translator) {
	v.tr = t
	if v.Notice != nil {
		v.Notice.Text = t.text(v.Notice.Text)
	}
	items := append([]*sessionItem{}, v.Current)
	for i := range v.Others {
		items = append(items, &v.Others[i])
	}
	for _, it := range items {
		if it == nil {
			continue
		}
		if it.Device == "" {
			it.Device = t.text("Unknown device")
		}
		for i := range it.Details {
			it.Details[i].Term = t.text(it.Details[i].Term)
		}
	}
}

// T translates a string of the section's template.
func (v *sessionsView) T(s string) string { return v.tr.text(s) }
