package hanko

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/store"
)

// Third-party sign-in on the Hanko face (notes "Observed on a real Hanko v3
// server"): thirdparty_oauth sends the client to the provider (state
// thirdparty, payload.redirect_url, cookie hanko_thirdparty_state); the
// provider returns to GET /thirdparty/callback, which signs in, signs up or
// links (allow_linking: only a provider-verified e-mail equal to a
// verified address) and sends the browser to redirect_to?hanko_token=…;
// exchange_token in the same flow trades the one-time token for the
// session. Unlike real Hanko, an unverified provider e-mail never links.

const (
	tpStateCookie = "hanko_thirdparty_state"
	// tpCallbackAction is the internal action the callback submits; the
	// flow never offers it and clients cannot name it.
	tpCallbackAction = "latchkey:thirdparty_callback"
	internalPrefix   = "latchkey:"
	tpTokenTTL       = 5 * time.Minute
	tpTokenAttempts  = 3
)

var (
	keyTPPending  = flow.NewKey[oidc.Pending]("thirdparty.pending")
	keyTPRedirect = flow.NewKey[string]("thirdparty.redirect_to")
	keyTPVerifier = flow.NewKey[string]("thirdparty.code_verifier")
	keyTPToken    = flow.NewKey[tpToken]("thirdparty.token")
	keyTPAuthURL  = flow.NewKey[string]("thirdparty.redirect_url")
)

// keepRedirectURL shows the provider URL again in the thirdparty state's
// payload (Hanko's payload.redirect_url stays with the state).
func keepRedirectURL(b *flow.Context) {
	if u, ok := keyTPAuthURL.Get(b.Stash()); ok {
		b.SetPayload("redirect_url", u)
	}
}

// tpToken is the one-time token the callback hands the client (hashed).
type tpToken struct {
	Hash      string    `json:"hash"`
	UserID    string    `json:"user_id"`
	Provider  string    `json:"provider"`
	ExpiresAt time.Time `json:"expires_at"`
	Attempts  int       `json:"attempts"`
	// Connect is the provider link a profile flow adds once the user
	// presents the token with their session.
	Connect *identity.OIDCProvider `json:"connect,omitempty"`
}

// thirdPartyOffered reports whether the face offers third-party sign-in:
// providers exist and redirect_to has somewhere to point.
func (h *Handler) thirdPartyOffered() bool {
	return h.oidc != nil && len(h.oidc.Providers()) > 0 && len(h.redirects) > 0
}

// thirdPartyAction is thirdparty_oauth.
func (h *Handler) thirdPartyAction() flow.Action {
	var allowed []flow.AllowedValue
	if h.oidc != nil {
		for _, p := range h.oidc.Providers() {
			allowed = append(allowed, flow.AllowedValue{Value: p.HankoName(), Name: p.DisplayName()})
		}
	}
	return flow.Action{Name: "thirdparty_oauth", Description: "Sign up/sign in with a third party provider via OAuth.",
		Inputs: []flow.Input{
			{Name: "provider", Type: flow.TypeString, Required: true, Hidden: true, AllowedValues: allowed},
			{Name: "redirect_to", Type: flow.TypeString, Required: true, Hidden: true},
			{Name: "code_verifier", Type: flow.TypeString, Hidden: true, MaxLength: 128},
		},
		Suspended: func(*flow.Context) bool { return !h.thirdPartyOffered() },
		Execute:   h.thirdPartyOAuth,
	}
}

// thirdPartyState is the state a third-party sign-in waits in.
func (h *Handler) thirdPartyState() (string, []flow.Action) {
	return stateThirdParty, []flow.Action{
		{Name: "exchange_token", Description: "Exchange a one time token.",
			Inputs: []flow.Input{{Name: "token", Type: flow.TypeString, Required: true, Hidden: true},
				{Name: "code_verifier", Type: flow.TypeString, Hidden: true}},
			Suspended: func(*flow.Context) bool { return !h.thirdPartyOffered() },
			Execute:   h.exchangeToken},
		flow.BackAction("back", "Navigate one step back."),
		{Name: tpCallbackAction, Suspended: func(*flow.Context) bool { return !h.thirdPartyOffered() }, Execute: h.thirdPartyCallbackStep},
	}
}

// thirdPartyOAuth starts the round trip to the provider.
func (h *Handler) thirdPartyOAuth(c *flow.ActionContext) error {
	b := c.Base()
	p, err := h.oidc.ProviderByHankoName(c.String("provider"))
	if err != nil {
		return c.Error(inputErr("provider", flow.CodeValueInvalid))
	}
	to := c.String("redirect_to")
	if to == "" {
		to = h.cfg.ThirdParty.DefaultRedirectURL
	}
	if !h.redirectAllowed(to) {
		return c.Error(inputErr("redirect_to", flow.CodeValueInvalid))
	}
	start, err := h.oidc.Begin(b.Context(), p, b.FlowID(), h.cfg.ThirdParty.RedirectURL, nil)
	if err != nil {
		h.log.WarnContext(b.Context(), "hanko: third-party provider unavailable", "provider", p.ID, "error", err)
		return c.Error(errTechnical.core())
	}
	st := b.Stash()
	keyTPPending.Set(st, start.Pending)
	keyTPRedirect.Set(st, to)
	keyTPToken.Delete(st)
	keyTPVerifier.Delete(st)
	if v := c.String("code_verifier"); v != "" {
		keyTPVerifier.Set(st, hashHex(v))
	}
	ck := &http.Cookie{Name: tpStateCookie, Value: start.State, Path: "/", MaxAge: 300, HttpOnly: true,
		Secure: h.cfg.Session.Cookie.Secure, SameSite: http.SameSiteLaxMode}
	if ck.Secure {
		ck.SameSite = http.SameSiteNoneMode
	}
	fr := requestOf(b.Context())
	fr.cookies = append(fr.cookies, ck)
	keyTPAuthURL.Set(st, start.URL)
	b.SetPayload("redirect_url", start.URL)
	return c.Continue(stateThirdParty)
}

// tpResult is what the callback decided, carried into the internal step.
type tpResult struct {
	provider *oidc.Provider
	userID   string             // sign-in
	linkTo   string             // link the provider to this user
	prepared *identity.Prepared // sign-up
	link     identity.OIDCProvider
	token    string // the one-time token (hashed into the stash)
	conflict bool   // set by the step when the sign-up lost to another account
	connect  bool   // profile: link at exchange_token, with the session
}

type tpResultKey struct{}

// thirdPartyCallbackStep applies the callback's decision in the flow's
// transaction: create or link the account, then keep the one-time token.
func (h *Handler) thirdPartyCallbackStep(c *flow.ActionContext) error {
	b := c.Base()
	res, _ := b.Context().Value(tpResultKey{}).(*tpResult)
	if res == nil {
		return errors.New("hanko: third-party callback step without a result")
	}
	ctx, tx := b.Context(), b.Tx()
	userID := res.userID
	switch {
	case res.prepared != nil:
		i, err := h.ids.WithTx(tx).CreatePrepared(ctx, res.prepared)
		if core.ErrorCode(err) == core.CodeConflict && !errors.Is(err, identity.ErrTxAborted) {
			res.conflict = true
			keepRedirectURL(b)
			return c.Error(errEmailTaken.core())
		}
		if err != nil {
			return err
		}
		userID = i.ID
		if err := h.emitUser(ctx, tx, EventUserCreate, i); err != nil {
			return fmt.Errorf("queue user.create: %w", err)
		}
	case res.linkTo != "":
		if _, err := h.ids.WithTx(tx).LinkOIDC(ctx, res.linkTo, res.link); err != nil {
			if core.ErrorCode(err) == core.CodeConflict && !errors.Is(err, identity.ErrTxAborted) {
				res.conflict = true
				keepRedirectURL(b)
				return c.Error(errEmailTaken.core())
			}
			return err
		}
		userID = res.linkTo
	}
	st := b.Stash()
	keyTPPending.Delete(st)
	t := tpToken{Hash: hashHex(res.token), UserID: userID, Provider: res.provider.ID, ExpiresAt: b.Now().Add(tpTokenTTL)}
	if res.connect {
		t.Connect = &res.link
	}
	keyTPToken.Set(st, t)
	keepRedirectURL(b)
	return c.Continue(stateThirdParty)
}

// exchangeToken trades the one-time token for the sign-in.
func (h *Handler) exchangeToken(c *flow.ActionContext) error {
	b := c.Base()
	st := b.Stash()
	t, ok := keyTPToken.Get(st)
	keepRedirectURL(b)
	if !ok || !b.Now().Before(t.ExpiresAt) || t.Attempts >= tpTokenAttempts {
		keyTPToken.Delete(st)
		return c.Error(inputErr("token", flow.CodeValueInvalid))
	}
	good := subtle.ConstantTimeCompare([]byte(hashHex(c.String("token"))), []byte(t.Hash)) == 1
	if want, ok := keyTPVerifier.Get(st); ok && want != "" {
		good = good && subtle.ConstantTimeCompare([]byte(hashHex(c.String("code_verifier"))), []byte(want)) == 1
	}
	if !good {
		t.Attempts++
		keyTPToken.Set(st, t)
		return c.Error(inputErr("token", flow.CodeValueInvalid))
	}
	keyTPToken.Delete(st)
	if t.Connect != nil {
		// Profile: the signed-in user connects the provider account.
		if _, err := h.ids.WithTx(b.Tx()).LinkOIDC(b.Context(), b.IdentityID(), *t.Connect); err != nil {
			if core.ErrorCode(err) == core.CodeConflict && !errors.Is(err, identity.ErrTxAborted) {
				return c.Error(inputErr("token", flow.CodeValueInvalid))
			}
			return err
		}
		return c.Continue(stateProfileInit)
	}
	i, err := b.Tx().GetIdentity(b.Context(), t.UserID)
	if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	if i.State != core.IdentityActive {
		return c.Error(errUnauthorized.core())
	}
	authenticated(b, i.ID, AMRThirdParty+t.Provider)
	return c.Continue(h.loginOnboarding(b, i)...)
}

// thirdPartyCallback is GET|POST /thirdparty/callback.
func (h *Handler) thirdPartyCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost {
		// Apple answers with form_post: continue as a top-level GET, which
		// carries the Lax state cookie.
		h.limitBody(w, r)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "The provider's answer could not be read.", http.StatusBadRequest)
			return
		}
		u := *r.URL
		u.RawQuery = r.PostForm.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	clear := &http.Cookie{Name: tpStateCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.cfg.Session.Cookie.Secure}
	http.SetCookie(w, clear)
	fail := func(redirectTo, code, desc string) {
		to := h.cfg.ThirdParty.ErrorRedirectURL
		if to == "" {
			to = redirectTo
		}
		if to == "" {
			http.Error(w, desc, http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, withQuery(to, "error", code, "error_description", desc), http.StatusSeeOther)
	}
	if !h.thirdPartyOffered() {
		fail("", "invalid_request", "third-party sign-in is not enabled")
		return
	}
	fid, ok := core.ParseID(oidc.FlowID(q.Get("state")))
	if !ok {
		fail("", "invalid_request", "the state names no sign-in")
		return
	}
	f := flowsFor(h)
	rec, err := h.store.GetFlow(ctx, fid)
	if err != nil || rec.Face != "hanko" || (rec.Kind != core.FlowLogin && rec.Kind != core.FlowRegistration && rec.Kind != core.FlowProfile) {
		fail("", "invalid_request", "the sign-in was not found")
		return
	}
	def := f.login
	switch rec.Kind {
	case core.FlowRegistration:
		def = f.registration
	case core.FlowProfile:
		def = f.profile
	}
	res, err := f.engine.Peek(ctx, def, fid)
	if err != nil || res.State != stateThirdParty {
		fail("", "invalid_request", "the sign-in has expired or is not waiting for a provider")
		return
	}
	redirectTo, _ := keyTPRedirect.Get(res.Stash)
	pend, _ := keyTPPending.Get(res.Stash)
	p, err := h.oidc.Provider(pend.Provider)
	if err != nil {
		fail(redirectTo, "invalid_request", "the sign-in is not waiting for a provider")
		return
	}
	cookie := ""
	if c, err := r.Cookie(tpStateCookie); err == nil {
		cookie = c.Value
	}
	claims, tokens, err := h.oidc.Finish(ctx, p, pend, oidc.Callback{State: q.Get("state"), CookieState: cookie, Code: q.Get("code"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description")})
	if err != nil {
		code := "server_error"
		switch core.ErrorCode(err) {
		case core.CodeUnauthorized:
			code = "access_denied"
		case core.CodeInvalid:
			code = "invalid_request"
		default:
			h.log.WarnContext(ctx, "hanko: third-party callback failed", "provider", p.ID, "error", err)
		}
		fail(redirectTo, code, core.ErrorMessage(err))
		return
	}
	var out *tpResult
	var code, desc string
	if rec.Kind == core.FlowProfile {
		out, code, desc = h.decideConnect(ctx, rec.IdentityID, p, claims, tokens)
	} else {
		out, code, desc = h.decideThirdParty(ctx, p, claims, tokens)
	}
	if code != "" {
		fail(redirectTo, code, desc)
		return
	}
	step := context.WithValue(context.WithValue(ctx, tpResultKey{}, out), flowRequestKey{}, &flowRequest{r: r, providerCallback: true})
	// The step keeps the CSRF token: a copy of the flow kept from before it
	// would look current to the client's next step.
	f.cache.forget(fid)
	after, err := f.engine.Submit(step, def, flow.Submission{FlowID: fid, Action: tpCallbackAction, CSRFToken: res.Flow.CSRFToken, Input: []byte(`{}`), KeepCSRF: true})
	f.cache.forget(fid)
	switch {
	case err != nil:
		h.log.ErrorContext(ctx, "hanko: third-party callback step failed", "provider", p.ID, "error", err)
		fail(redirectTo, "server_error", "the sign-in could not be completed")
		return
	case out.conflict || after.Error != nil:
		fail(redirectTo, "user_conflict", "an account with this e-mail address exists already")
		return
	}
	http.Redirect(w, r, withQuery(redirectTo, "hanko_token", out.token), http.StatusTemporaryRedirect)
}

// decideThirdParty applies the linking rules of method/oidc; a non-empty
// code is the error to send the browser back with.
func (h *Handler) decideThirdParty(ctx context.Context, p *oidc.Provider, claims *oidc.Claims, tokens *oidc.Tokens) (*tpResult, string, string) {
	op, err := h.oidc.Credential(p, claims, tokens)
	if err != nil {
		return nil, "server_error", "the sign-in could not be completed"
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, "server_error", "the sign-in could not be completed"
	}
	out := &tpResult{provider: p, link: op, token: base64.RawURLEncoding.EncodeToString(tok)}
	res, err := oidc.Resolve(ctx, h.store, store.ErrNotFound, p, claims, nil)
	if err != nil {
		h.log.ErrorContext(ctx, "hanko: third-party look-up failed", "error", err)
		return nil, "server_error", "the sign-in could not be completed"
	}
	switch res.Outcome {
	case oidc.SignIn:
		if res.Identity.State != core.IdentityActive {
			return nil, "access_denied", "this account is disabled"
		}
		out.userID = res.Identity.ID
		return out, "", ""
	case oidc.Link:
		out.linkTo = res.Identity.ID
		return out, "", ""
	case oidc.Conflict:
		return nil, "user_conflict", "an account with this e-mail address exists already; sign in to it and connect " + p.DisplayName() + " in your profile"
	}
	if !h.cfg.Account.AllowSignup {
		return nil, "signup_disabled", "new accounts cannot be created"
	}
	sch, err := h.ids.Schemas().Schema(h.ids.DefaultSchemaID())
	if err != nil {
		return nil, "server_error", "the sign-in could not be completed"
	}
	mapped, err := h.oidc.Map(ctx, p, claims, sch.Raw())
	if err != nil {
		h.log.WarnContext(ctx, "hanko: claims mapping failed", "provider", p.ID, "error", err)
		return nil, "invalid_request", core.ErrorMessage(err)
	}
	d := identity.Draft{Traits: mapped.Traits, MetadataPublic: mapped.MetadataPublic, MetadataAdmin: mapped.MetadataAdmin,
		Credentials: &identity.CredentialsDraft{OIDC: []identity.OIDCProvider{op}}}
	if mapped.VerifiedEmail != "" {
		now := h.now().UTC()
		d.VerifiableAddresses = []identity.AddressDraft{{Via: core.ViaEmail, Value: mapped.VerifiedEmail, Verified: true, VerifiedAt: &now, Status: core.AddressCompleted}}
	}
	if out.prepared, err = h.ids.Prepare(ctx, d); err != nil {
		if core.ErrorCode(err) == core.CodeInvalid {
			return nil, "invalid_request", p.DisplayName() + " did not give what an account here needs (a verified e-mail address)"
		}
		return nil, "server_error", "the sign-in could not be completed"
	}
	return out, "", ""
}

// redirectAllowed checks redirect_to against allowed_redirect_urls: the URL
// without query and fragment (and never with user info) must match a glob.
func (h *Handler) redirectAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	s := u.Scheme + "://" + u.Host + u.EscapedPath()
	for _, re := range h.redirects {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// compileRedirects turns allowed_redirect_urls globs into patterns: "**"
// matches anything, "*" anything but "/".
func compileRedirects(globs []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, g := range globs {
		var b strings.Builder
		b.WriteString("^")
		for i := 0; i < len(g); i++ {
			switch {
			case strings.HasPrefix(g[i:], "**"):
				b.WriteString(".*")
				i++
			case g[i] == '*':
				b.WriteString("[^/]*")
			default:
				b.WriteString(regexp.QuoteMeta(g[i : i+1]))
			}
		}
		b.WriteString("$")
		re, err := regexp.Compile(b.String())
		if err != nil {
			return nil, fmt.Errorf("allowed_redirect_urls %q: %w", g, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func withQuery(raw string, kv ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// connectThirdPartyAction is the profile's connect_thirdparty_oauth_provider:
// the same round trip as thirdparty_oauth, ending in a link to the user.
func (h *Handler) connectThirdPartyAction() flow.Action {
	a := h.thirdPartyAction()
	a.Name, a.Description = "connect_thirdparty_oauth_provider", "Connect a third party provider via OAuth."
	return a
}

// decideConnect checks that the provider account is free to connect to the
// profile's user (linked to nobody else).
func (h *Handler) decideConnect(ctx context.Context, userID string, p *oidc.Provider, claims *oidc.Claims, tokens *oidc.Tokens) (*tpResult, string, string) {
	op, err := h.oidc.Credential(p, claims, tokens)
	if err != nil {
		return nil, "server_error", "the connection could not be completed"
	}
	i, err := h.store.FindIdentityByIdentifier(ctx, core.CredentialOIDC, oidc.Identifier(p.ID, claims.Subject))
	switch {
	case err == nil && i.ID != userID:
		return nil, "user_conflict", "this " + p.DisplayName() + " account is connected to another account"
	case err == nil:
		return nil, "invalid_request", "this " + p.DisplayName() + " account is connected already"
	case !errors.Is(err, store.ErrNotFound):
		return nil, "server_error", "the connection could not be completed"
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, "server_error", "the connection could not be completed"
	}
	return &tpResult{provider: p, link: op, connect: true, userID: userID, token: base64.RawURLEncoding.EncodeToString(tok)}, "", ""
}

// hasLinks reports whether the user has a provider connection.
func hasLinks(i *core.Identity) bool {
	if i == nil {
		return false
	}
	c, ok := i.Credential(core.CredentialOIDC)
	return ok && len(c.Identifiers) > 0
}

// disconnectThirdParty removes a provider connection, unless it is the
// user's last way to sign in.
func (h *Handler) disconnectThirdParty(c *flow.ActionContext) error {
	b := c.Base()
	ctx, tx := b.Context(), b.Tx()
	i, err := tx.GetIdentity(ctx, b.IdentityID())
	if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	var found string
	for _, id := range identitiesJSON(i, nil) {
		if id.IdentityID == c.String("identity_id") {
			found = oidc.Identifier(id.Provider, id.ID)
		}
	}
	if found == "" {
		return c.Error(inputErr("identity_id", flow.CodeValueInvalid))
	}
	ways := len(identitiesJSON(i, nil)) - 1
	if h.cfg.Password.Enabled && passwordJSON(i) != nil {
		ways++
	}
	if h.cfg.Email.Enabled && h.cfg.Email.UseForAuthentication && len(emails(i)) > 0 {
		ways++
	}
	if h.passkeysOn() && h.hasPasskey(i.ID) {
		ways++
	}
	if ways == 0 {
		return c.Error(inputErr("identity_id", flow.CodeValueInvalid)) // the last way to sign in stays
	}
	if err := h.ids.WithTx(tx).DeleteCredential(ctx, i.ID, core.CredentialOIDC, found); err != nil {
		return fmt.Errorf("disconnect provider: %w", err)
	}
	return c.Continue(stateProfileInit)
}
