package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// flowPage serves the page of one self-service flow kind.
func (h *Handler) flowPage(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id := q.Get("flow")
		if id == "" {
			h.language(w, r) // remember ?lang= before the face's redirect
			q.Del("flow")
			q.Del("lang")
			redirect(w, r, h.selfService(kind+"/browser", q))
			return
		}
		rp, err := h.call(r, "/self-service/"+kind+"/flows?"+url.Values{"id": {id}}.Encode())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		forwardCookies(w, rp)
		if rp.status != http.StatusOK {
			h.flowFailed(w, r, kind, rp)
			return
		}
		var f flowJSON
		if err := rp.decode(&f); err != nil {
			h.fail(w, r, fmt.Errorf("ui: %s flow: %w", kind, err))
			return
		}
		var sch schemaInfo
		if kind == "login" || kind == "registration" || kind == "settings" {
			id := ""
			if f.Identity != nil {
				id = f.Identity.SchemaID
			}
			sch = h.schema(r, id)
		}
		p := h.flowView(kind, &f, sch)
		if kind == "settings" {
			p.Sessions = h.sessionsSection(w, r, f.ID)
		}
		if kind == "settings" || (kind == "login" && (f.Refresh || f.RequestedAAL == "aal2")) {
			if out := h.logoutURL(r); out != "" {
				p.Links = append(p.Links, link{Text: "Log out", Href: out})
			}
		}
		h.render(w, r, http.StatusOK, p)
	}
}

// flowView builds the page of a fetched flow: its forms, messages and the
// links to the neighbouring pages.
func (h *Handler) flowView(kind string, f *flowJSON, sch schemaInfo) *page {
	prepareNodes(kind, f.UI.Nodes, sch)
	p := &page{Messages: messages(f.UI.Messages), Script: h.webauthnScript(f.UI.Nodes)}
	p.Forms = flowForms(f.UI, kind == "settings", p.Script != nil)
	keep := url.Values{}
	if f.ReturnTo != "" {
		keep.Set("return_to", f.ReturnTo)
	}
	withReturn := func(name string) string {
		if len(keep) == 0 {
			return h.page(name)
		}
		return h.page(name) + "?" + keep.Encode()
	}
	switch kind {
	case "login":
		p.Title = "Sign in"
		switch {
		case f.RequestedAAL == "aal2":
			p.Title, p.Lead = "Second factor", "Confirm your sign-in with a second factor."
		case f.Refresh:
			p.Title, p.Lead = "Confirm it's you", "Sign in again to continue."
		default:
			if h.register {
				p.Links = append(p.Links, link{Prefix: "Don't have an account?", Text: "Sign up", Href: withReturn("registration")})
			}
			if h.recover {
				p.Links = append(p.Links, link{Prefix: "Forgot your password?", Text: "Recover your account", Href: withReturn("recovery")})
			}
		}
	case "registration":
		p.Title = "Create an account"
		p.Links = append(p.Links, link{Prefix: "Already have an account?", Text: "Sign in", Href: withReturn("login")})
	case "settings":
		p.Title = "Account settings"
		if name := displayName(f.Identity); name != "" {
			p.Account = name
		}
		p.Links = append(p.Links, link{Text: "Home", Href: h.base + "/"})
	case "recovery":
		p.Title = "Recover your account"
		p.Links = append(p.Links, link{Prefix: "Remembered it?", Text: "Sign in", Href: withReturn("login")})
	case "verification":
		p.Title = "Verify your address"
		p.Links = append(p.Links, link{Text: "Home", Href: h.base + "/"})
	}
	return p
}

// flowFailed handles a flow fetch that did not answer 200, as Ory's
// reference UI does: a flow that is gone or expired starts over, settings
// without a session go to sign-in, a redirect the face asks for is followed,
// anything else shows the error. A CSRF failure shows the error with a link
// to start over rather than redirecting, which would loop when the browser
// refuses the anti-CSRF cookie.
func (h *Handler) flowFailed(w http.ResponseWriter, r *http.Request, kind string, rp *reply) {
	e := rp.errorBody()
	restart := h.selfService(kind+"/browser", nil)
	switch {
	case e.RedirectBrowserTo != "":
		redirect(w, r, e.RedirectBrowserTo)
	case kind == "settings" && rp.status == http.StatusUnauthorized:
		redirect(w, r, h.selfService("login/browser", url.Values{"return_to": {h.absoluteSelfService(r, "settings/browser")}}))
	case rp.status == http.StatusGone:
		to, _ := e.Error.Details["redirect_to"].(string)
		if to == "" {
			to = restart
		}
		redirect(w, r, to)
	case rp.status == http.StatusNotFound, e.Error.ID == "security_identity_mismatch":
		redirect(w, r, restart)
	default:
		status := rp.status
		if status < 400 {
			status = http.StatusBadGateway
		}
		p := h.errorView(e.Error, status)
		p.Links = []link{{Text: "Start over", Href: restart}, {Text: "Home", Href: h.base + "/"}}
		h.render(w, r, status, p)
	}
}

// absoluteSelfService returns the absolute URL of a self-service endpoint,
// for return_to (which the face allows below the public base URL's
// /self-service); a path when the public base URL is not known.
func (h *Handler) absoluteSelfService(_ *http.Request, path string) string {
	return h.origin + h.selfService(path, nil)
}

// errorView is the page of a Kratos error.
func (h *Handler) errorView(g genericErrorJSON, status int) *page {
	ev := &errorView{Code: g.Code, Status: g.Status, Message: g.Message, Reason: g.Reason, ID: g.ID, Request: g.Request}
	if ev.Code == 0 {
		ev.Code = status
	}
	if ev.Status == "" {
		ev.Status = http.StatusText(ev.Code)
	}
	if ev.Message == "" && ev.Reason == "" {
		ev.Message = "The request could not be completed."
	}
	if ev.Reason == ev.Message {
		ev.Reason = ""
	}
	title := "Something went wrong"
	if g.ID == "security_csrf_violation" {
		title = "The form could not be verified"
		ev.Message = "The form was sent without the security cookie this site set when it opened the form, so it was rejected to protect your account."
		ev.Reason = "This happens when your browser blocks cookies for this site, or when the form was opened in another browser or a long time ago. Allow cookies for this site, then start over."
	}
	return &page{Title: title, Error: ev}
}

// errorPage serves /ui/error?id=: the stored self-service error.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	links := []link{{Text: "Sign in", Href: h.page("login")}, {Text: "Home", Href: h.base + "/"}}
	if id == "" {
		p := h.errorView(genericErrorJSON{Code: 404, Message: "No error was given."}, http.StatusNotFound)
		p.Links = links
		h.render(w, r, http.StatusNotFound, p)
		return
	}
	rp, err := h.call(r, "/self-service/errors?"+url.Values{"id": {id}}.Encode())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var fe flowErrorJSON
	if rp.status != http.StatusOK || rp.decode(&fe) != nil {
		e := rp.errorBody()
		p := h.errorView(e.Error, rp.status)
		if rp.status == http.StatusNotFound {
			p.Error.Message, p.Error.Reason = "This error is not known or has expired.", ""
		}
		p.Links = links
		h.render(w, r, rp.status, p)
		return
	}
	p := h.errorView(fe.Error, http.StatusOK)
	p.Links = links
	h.render(w, r, http.StatusOK, p)
}

// welcome serves the landing page: who is signed in, with links to the
// settings and to log out; or links to sign in and sign up.
func (h *Handler) welcome(w http.ResponseWriter, r *http.Request) {
	rp, err := h.call(r, "/sessions/whoami")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := &page{Title: "Welcome"}
	var s sessionJSON
	if rp.status != http.StatusOK || rp.decode(&s) != nil || s.Identity == nil {
		p.Lead = "You are not signed in."
		p.Links = []link{{Text: "Sign in", Href: h.page("login")}}
		if h.register {
			p.Links = append(p.Links, link{Text: "Sign up", Href: h.page("registration")})
		}
		h.render(w, r, http.StatusOK, p)
		return
	}
	p.Account = displayName(s.Identity)
	p.Details = traitDetails(s.Identity)
	p.Details = append(p.Details,
		detail{Term: "Assurance level", Value: s.AuthenticatorAssuranceLevel},
		detail{Term: "Signed in at", Value: s.AuthenticatedAt},
		detail{Term: "Session expires at", Value: s.ExpiresAt})
	p.Links = []link{{Text: "Account settings", Href: h.page("settings")}}
	if h.verify && hasUnverified(s.Identity) {
		p.Links = append(p.Links, link{Text: "Verify your address", Href: h.page("verification")})
	}
	if out := h.logoutURL(r); out != "" {
		p.Links = append(p.Links, link{Text: "Log out", Href: out})
	}
	h.render(w, r, http.StatusOK, p)
}

func hasUnverified(i *identityJSON) bool {
	for _, a := range i.VerifiableAddresses {
		if !a.Verified {
			return true
		}
	}
	return false
}

// logoutURL returns the browser logout URL of the request's session, or ""
// when there is none.
func (h *Handler) logoutURL(r *http.Request) string {
	rp, err := h.call(r, "/self-service/logout/browser")
	if err != nil || rp.status != http.StatusOK {
		return ""
	}
	var lo logoutJSON
	if rp.decode(&lo) != nil {
		return ""
	}
	return lo.LogoutURL
}

// webauthnScriptPath is where the Kratos face serves its WebAuthn script.
const webauthnScriptPath = "/.well-known/ory/webauthn.js"

// webauthnScript returns the script a flow's script node asks for, when it
// is the face's own WebAuthn script (on the public base URL, or a path on
// it); any other script is never loaded.
func (h *Handler) webauthnScript(nodes []nodeJSON) *script {
	own := h.prefix + webauthnScriptPath
	for _, n := range nodes {
		a := n.Attributes
		if n.Type != "script" || !(a.Src == own || h.origin != "" && a.Src == h.origin+own) {
			continue
		}
		if a.Integrity != "" && !strings.HasPrefix(a.Integrity, "sha512-") && !strings.HasPrefix(a.Integrity, "sha384-") &&
			!strings.HasPrefix(a.Integrity, "sha256-") {
			continue
		}
		return &script{Src: a.Src, Integrity: a.Integrity}
	}
	return nil
}
