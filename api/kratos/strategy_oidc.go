package kratos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/store"
)

// Third-party sign-in (Kratos' oidc strategy, notes §3.1/§3.2 and the
// "Observed on a real Kratos" OIDC notes): a browser or SPA submits
// method=oidc with provider; the round trip's state hash, nonce and PKCE
// verifier go with the browser, sealed for the flow in the state cookie
// (an API flow, finished by a browser without the flow's cookies, keeps
// them in the flow and the state alone binds it), and the browser is
// sent to the provider (303, or 422 redirect_browser_to for JSON clients);
// the provider sends it back to /self-service/methods/oidc/callback/{id},
// which signs in, signs up, or asks the user to prove an existing account
// whose address the provider's e-mail names before linking to it.

const (
	// oidcStateCookie binds a provider round trip to the browser.
	oidcStateCookie = "latchkey_oidc_state"
	// oidcCallbackPath is the redirect URI registered at providers (plus
	// the provider id).
	oidcCallbackPath = "self-service/methods/oidc/callback/"
	groupOIDC        = "oidc"
	// Kratos' ids for the oidc strategy's texts.
	msgLoginWith             = 1010002
	msgLoginLink             = 1010016
	msgLoginAndLink          = 1010017
	msgLoginWithAndLink      = 1010018
	msgRegistrationWith      = 1040002
	msgDuplicateOIDCIdentity = 4000027
	msgDuplicateWithHints    = 4000028
	msgLinkedDoNotMatch      = 4010009
)

var (
	// keyOIDCPending is the round trip in progress.
	keyOIDCPending = flow.NewKey[oidc.Pending]("kratos.oidc.pending")
	// keyOIDCLink is a provider identity waiting: for the user to prove the
	// existing account IdentityID (login), or for traits the mapper left
	// out (registration, IdentityID empty).
	keyOIDCLink = flow.NewKey[oidcLink]("kratos.oidc.link")
)

// oidcLink is a provider identity kept in a flow (tokens sealed).
type oidcLink struct {
	Link           identity.OIDCProvider `json:"link"`
	IdentityID     string                `json:"identity_id,omitempty"`
	VerifiedEmail  string                `json:"verified_email,omitempty"`
	MetadataPublic json.RawMessage       `json:"metadata_public,omitempty"`
	MetadataAdmin  json.RawMessage       `json:"metadata_admin,omitempty"`
}

// oidcEnabled reports whether the face offers third-party sign-in.
func (s *SelfService) oidcEnabled() bool {
	return s.oidc != nil && s.cfg.Methods.OIDC.Enabled && len(s.oidc.Providers()) > 0
}

// oidcStrategies returns the oidc strategy of a login or registration flow.
func (s *SelfService) oidcStrategies(kind core.FlowKind) []strategy {
	if !s.oidcEnabled() {
		return nil
	}
	return []strategy{{
		method: "oidc",
		inputs: []flow.Input{{Name: "provider", Type: flow.TypeString}, {Name: "traits", Type: flow.TypeJSON},
			{Name: "upstream_parameters", Type: flow.TypeJSON}, {Name: "id_token", Type: flow.TypeString},
			{Name: "id_token_nonce", Type: flow.TypeString}},
		fields:  []string{"provider"},
		nodes:   func(v *view) []Node { return s.oidcNodes(v, kind) },
		prepare: func(sub *submission) (*outcome, error) { return s.oidcSubmit(sub, kind) },
	}}
}

// oidcNodes renders one button per provider ("Sign in with …" / "Sign up
// with …"); a registration waiting for traits offers only its provider.
func (s *SelfService) oidcNodes(v *view, kind core.FlowKind) []Node {
	if kind == core.FlowLogin && val(keyAAL, v.res.Stash) == string(core.AAL2) {
		return nil
	}
	link, waiting := keyOIDCLink.Get(v.res.Stash)
	var nodes []Node
	for _, p := range s.oidc.Providers() {
		if waiting && kind == core.FlowRegistration && link.IdentityID == "" && p.ID != link.Link.Provider {
			continue
		}
		id, verb := msgLoginWith, "Sign in with "
		if kind == core.FlowRegistration {
			id, verb = msgRegistrationWith, "Sign up with "
		}
		label := Text{ID: id, Type: textInfo, Text: verb + p.DisplayName(),
			Context: map[string]any{"provider": p.DisplayName(), "provider_id": p.ID}}
		nodes = append(nodes, submitNode(groupOIDC, "provider", p.ID, label))
	}
	return nodes
}

// oidcRedirectURI is the callback URL of a provider.
func (s *SelfService) oidcRedirectURI(id string) string {
	base := s.cfg.Methods.OIDC.Config.BaseRedirectURI
	if base == "" {
		base = s.public
	}
	return strings.TrimRight(base, "/") + "/" + oidcCallbackPath + url.PathEscape(id)
}

// upstreamParams are the upstream_parameters Kratos passes through.
var upstreamParams = []string{"login_hint", "hd", "prompt", "auth_type"}

// oidcSubmit starts a round trip to the provider, verifies a native app's
// id_token, or completes a sign-up with the traits the user added.
func (s *SelfService) oidcSubmit(sub *submission, kind core.FlowKind) (*outcome, error) {
	ctx := sub.r.Context()
	p, err := s.oidc.Provider(sub.str("provider"))
	if err != nil {
		return &outcome{messages: []Text{genericText(core.ErrorMessage(err))}}, nil
	}
	if raw := sub.str("id_token"); raw != "" {
		claims, err := s.oidc.VerifyNative(ctx, p, raw, sub.str("id_token_nonce"))
		if err != nil {
			return &outcome{messages: []Text{genericText(core.ErrorMessage(err))}}, nil
		}
		return s.oidcComplete(sub, kind, p, claims, &oidc.Tokens{IDToken: raw})
	}
	if link, ok := keyOIDCLink.Get(sub.res.Stash); ok && kind == core.FlowRegistration && link.IdentityID == "" &&
		link.Link.Provider == p.ID && sub.body["traits"] != nil {
		return s.oidcRegister(sub, kind, p, link, traitsOf(sub))
	}
	if sub.res.Flow.Type == "api" && !keyExchange.Has(sub.res.Stash) {
		return &outcome{messages: []Text{genericText("A native app signs in with " + p.DisplayName() +
			" by sending the provider's id_token (and id_token_nonce); the redirect to the provider works in browser flows only.")}}, nil
	}
	params := map[string]string{}
	if up, ok := sub.body["upstream_parameters"].(map[string]any); ok {
		for _, k := range upstreamParams {
			if v, ok := up[k].(string); ok && v != "" {
				params[k] = v
			}
		}
	}
	start, err := s.oidc.Begin(ctx, p, sub.res.Flow.ID, s.oidcRedirectURI(p.ID), params)
	if err != nil {
		if ce := (*core.Error)(nil); errors.As(err, &ce) && ce.Code != core.CodeInternal {
			s.errs.Log.Warn("oidc: provider unavailable", "provider", p.ID, "error", err)
			return &outcome{messages: []Text{genericText(ce.Message)}}, nil
		}
		return nil, err
	}
	if sub.res.Flow.Type == "browser" {
		// The browser carries the round trip, sealed in its state cookie,
		// instead of the flow: the redirect writes nothing (unwritten), and
		// the callback opens it (oidcCallback).
		sealed, err := s.oidc.SealPending(sub.res.Flow.ID, start.Pending)
		if err != nil {
			return nil, err
		}
		return &outcome{next: sub.res.State, redirect: start.URL, oidcState: sealed, unwritten: true}, nil
	}
	// An API flow's round trip (a native app's code exchange) is finished
	// by a browser that holds no cookie of the flow: the flow keeps it.
	return &outcome{next: sub.res.State, redirect: start.URL, oidcState: start.State,
		stash: func(st *flow.Stash) { keyOIDCPending.Set(st, start.Pending) }}, nil
}

// oidcComplete decides what verified claims lead to, following
// method/oidc's linking rules: a linked subject signs in; an address of
// another account makes the user prove that account first (never a
// sign-in on an e-mail alone); otherwise a sign-up.
func (s *SelfService) oidcComplete(sub *submission, kind core.FlowKind, p *oidc.Provider, claims *oidc.Claims, tokens *oidc.Tokens) (*outcome, error) {
	ctx := sub.r.Context()
	res, err := oidc.Resolve(ctx, s.st, store.ErrNotFound, p, claims, nil)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Looking up the account failed.", Cause: err}
	}
	if res.Outcome == oidc.SignIn {
		if res.Identity.State == core.IdentityInactive {
			return &outcome{messages: []Text{msgDisabled}}, nil
		}
		return &outcome{identityID: res.Identity.ID, ident: res.Identity, next: statePassedChallenge, oidcLogin: true}, nil
	}
	// A new link (its tokens sealed) only where one may be stored: a
	// sign-in keeps the link it has.
	op, err := s.oidc.Credential(p, claims, tokens)
	if err != nil {
		return nil, err
	}
	switch res.Outcome {
	case oidc.Conflict, oidc.Link:
		return s.oidcConflict(ctx, kind, p, res.Address, op, res.Identity)
	}
	sch, err := s.ids.Schemas().Schema(s.ids.DefaultSchemaID())
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "The identity schema is missing.", Cause: err}
	}
	mapped, err := s.oidc.Map(ctx, p, claims, sch.Raw())
	if err != nil {
		var ce *core.Error
		if errors.As(err, &ce) && ce.Code == core.CodeInvalid {
			s.errs.Log.Warn("oidc: claims mapper failed", "provider", p.ID, "error", ce.Cause)
			return &outcome{messages: []Text{genericText(ce.Message)}}, nil
		}
		return nil, err
	}
	link := oidcLink{Link: op, VerifiedEmail: mapped.VerifiedEmail, MetadataPublic: mapped.MetadataPublic, MetadataAdmin: mapped.MetadataAdmin}
	return s.oidcRegister(sub, kind, p, link, mapped.Traits)
}

// oidcConflict answers a provider identity whose address belongs to an
// existing account as Kratos does: the duplicate-credentials answer with
// hints (4000028: how the account signs in) and 1010016, and a login flow
// for that account that holds the provider link until the user signs in
// to the account in it (linkPending). A login flow continues itself; a
// registration hands over to a new login flow (oidcFinish). Nothing is
// signed in or linked here, whatever the provider says of the e-mail.
func (s *SelfService) oidcConflict(ctx context.Context, kind core.FlowKind, p *oidc.Provider, address string, op identity.OIDCProvider, existing *core.Identity) (*outcome, error) {
	types, providers, err := s.signInHints(ctx, existing)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Looking up the account failed.", Cause: err}
	}
	link := oidcLink{Link: op, IdentityID: existing.ID}
	o := &outcome{
		messages: []Text{duplicateHintsText(types, providers, address), s.loginLinkText(address, p)},
		values:   keep("identifier", address),
	}
	if kind == core.FlowLogin {
		o.stash = func(st *flow.Stash) { keyOIDCLink.Set(st, link) }
		return o, nil
	}
	o.toLogin = &link
	return o, nil
}

// signInHints lists how an identity signs in (Kratos' duplicate-credentials
// hints): its first-factor credential types and its providers' ids.
func (s *SelfService) signInHints(ctx context.Context, i *core.Identity) (types, providers []string, err error) {
	if c, ok := i.Credential(core.CredentialPassword); ok && len(c.Config) > 0 {
		var pc struct {
			HashedPassword string `json:"hashed_password"`
		}
		_ = json.Unmarshal(c.Config, &pc)
		if pc.HashedPassword != "" {
			types = append(types, string(core.CredentialPassword))
		}
	}
	keys, err := webauthnCredentials(ctx, s.st, i.ID, false)
	if err != nil {
		return nil, nil, err
	}
	if len(keys) > 0 {
		t := core.CredentialWebAuthn
		if s.cfg.Methods.Passkey.Enabled {
			t = core.CredentialPasskey
		}
		types = append(types, string(t))
	}
	if links, err := oidc.Links(i); err == nil && len(links.Providers) > 0 {
		types = append(types, string(core.CredentialOIDC))
		for _, l := range links.Providers {
			if !slices.Contains(providers, l.Provider) {
				providers = append(providers, l.Provider)
			}
		}
	}
	if types == nil {
		types = []string{}
	}
	if providers == nil {
		providers = []string{}
	}
	return types, providers, nil
}

// duplicateHintsText is Kratos' 4000028 (text.NewErrorValidationDuplicateCredentialsWithHints).
func duplicateHintsText(types, providers []string, identifier string) Text {
	shown := identifier
	if shown == "" {
		shown = "an email, phone, or username"
	}
	text := "You tried signing in with " + shown + " which is already in use by another account."
	var ways []string
	for _, t := range types {
		w := t
		switch t {
		case "password":
			w = "your password"
		case "oidc", "saml":
			w = "social sign in"
		case "webauthn":
			w = "your passkey or a security key"
		case "passkey":
			w = "your passkey"
		}
		if !slices.Contains(ways, w) {
			ways = append(ways, w)
		}
	}
	if len(ways) > 1 {
		ways[len(ways)-1] = "or " + ways[len(ways)-1]
	}
	if len(ways) > 0 {
		text += " You can sign in using " + strings.Join(ways, ", ") + "."
	}
	if len(providers) > 0 {
		titled := make([]string, len(providers))
		for n, p := range providers {
			titled[n] = titleCase(p)
		}
		text += " You can sign in using one of the following social sign in providers: " + strings.Join(titled, ", ") + "."
	}
	return Text{ID: msgDuplicateWithHints, Type: textError, Text: text, Context: map[string]any{
		"available_credential_types": types, "available_oidc_providers": providers, "credential_identifier_hint": identifier}}
}

// titleCase upper-cases the first letter of each word, as Kratos titles
// provider ids in 4000028.
func titleCase(s string) string {
	words := strings.Fields(s)
	for n, w := range words {
		r := []rune(strings.ToLower(w))
		r[0] = unicode.ToUpper(r[0])
		words[n] = string(r)
	}
	return strings.Join(words, " ")
}

// loginLinkText is Kratos' 1010016 for a provider waiting to be linked.
func (s *SelfService) loginLinkText(address string, p *oidc.Provider) Text {
	login := s.uiURLs[core.FlowLogin]
	return Text{ID: msgLoginLink, Type: textInfo,
		Text: fmt.Sprintf("You tried to sign in with %q, but that email is already used by another account. Sign in to your account with one of the options below to add your account %[1]q at %q as another way to sign in.", address, p.DisplayName()),
		Context: map[string]any{"duplicateIdentifier": address, "duplicate_identifier": address, "provider": p.DisplayName(),
			"newLoginUrl": login, "new_login_url": login}}
}

// linkLabels relabels a login flow's buttons while a provider waits to be
// linked, as Kratos does: "Sign in and link" (1010017) and "Confirm with
// <provider>" (1010018).
func linkLabels(nodes []Node) {
	for n := range nodes {
		l := nodes[n].Meta.Label
		if l == nil {
			continue
		}
		switch l.ID {
		case MsgLogin, MsgLoginPassword:
			t := infoText(msgLoginAndLink, "Sign in and link")
			nodes[n].Meta.Label = &t
		case msgLoginWith:
			p, _ := l.Context["provider"].(string)
			t := Text{ID: msgLoginWithAndLink, Type: textInfo, Text: "Confirm with " + p, Context: map[string]any{"provider": p}}
			nodes[n].Meta.Label = &t
		}
	}
}

// oidcRegister creates the identity with the provider link, or keeps the
// link and asks for the traits the mapping left invalid.
func (s *SelfService) oidcRegister(sub *submission, kind core.FlowKind, p *oidc.Provider, link oidcLink, traits json.RawMessage) (*outcome, error) {
	ctx := sub.r.Context()
	o := &outcome{values: keep("traits", traits)}
	if !s.cfg.Flows.Registration.Enabled {
		o.messages = []Text{genericText("Signing up is disabled: no account is linked to this " + p.DisplayName() + " account.")}
		return o, nil
	}
	ex, msgs, err := s.checkTraits(traits)
	if err != nil {
		return nil, err
	}
	if msgs != nil {
		o.nodeMessages = msgs
		o.stash = func(st *flow.Stash) { keyOIDCLink.Set(st, link) }
		o.oidcTraits = kind == core.FlowLogin
		return o, nil
	}
	var emails []string
	for _, a := range ex.VerifiableAddresses {
		if a.Via == core.ViaEmail {
			emails = append(emails, a.Value)
		}
	}
	for _, a := range ex.RecoveryAddresses {
		if a.Via == core.ViaEmail {
			emails = append(emails, a.Value)
		}
	}
	claims := &oidc.Claims{Subject: link.Link.Subject}
	res, err := oidc.Resolve(ctx, s.st, store.ErrNotFound, p, claims, emails)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Looking up the account failed.", Cause: err}
	}
	if res.Outcome != oidc.SignUp {
		return s.oidcConflict(ctx, kind, p, res.Address, link.Link, res.Identity)
	}
	d := identity.Draft{Traits: traits, MetadataPublic: link.MetadataPublic, MetadataAdmin: link.MetadataAdmin,
		Credentials: &identity.CredentialsDraft{OIDC: []identity.OIDCProvider{link.Link}}}
	if link.VerifiedEmail != "" {
		now := s.now().UTC()
		d.VerifiableAddresses = []identity.AddressDraft{{Via: core.ViaEmail, Value: link.VerifiedEmail, Verified: true, VerifiedAt: &now, Status: core.AddressCompleted}}
	}
	if stop, err := s.preRegistration(sub, "oidc", &d, o); stop || err != nil {
		return o, err
	}
	prep, err := s.ids.Prepare(ctx, d)
	if core.ErrorCode(err) == core.CodeInvalid {
		o.messages = []Text{genericText(core.ErrorMessage(err))}
		return o, nil
	}
	if err != nil {
		return nil, err
	}
	o.stash = func(st *flow.Stash) { keyOIDCLink.Delete(st) }
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		i, err := s.ids.WithTx(fc.Tx()).CreatePrepared(fc.Context(), prep)
		if takenInTx(err) {
			o.messages = []Text{{ID: msgDuplicateOIDCIdentity, Type: textError,
				Text: "An account with the same identifier (email, phone, username, ...) exists already. Please sign in to your existing account to link your social profile."}}
			return nil
		}
		if err != nil {
			return err
		}
		o.identityID, o.ident, o.next, o.oidcSignedUp = i.ID, i, statePassedChallenge, true
		return nil
	}
	return o, nil
}

// linkAfterProof makes a login strategy add a waiting provider link (see
// oidcConflict) once the user signed in to the account it names.
func (s *SelfService) linkAfterProof(st strategy) strategy {
	if !s.oidcEnabled() || st.method == "oidc" {
		return st
	}
	prepare := st.prepare
	st.prepare = func(sub *submission) (*outcome, error) {
		o, err := prepare(sub)
		if err != nil || o == nil {
			return o, err
		}
		s.linkPending(sub.res.Stash, o)
		return o, nil
	}
	return st
}

// linkPending wraps a login step's transaction: when the flow holds a
// provider link waiting for proof and the step signs someone in, the link
// is added to that account in the same transaction; a sign-in to any
// other account is refused with Kratos' 4010009 (nobody is signed in).
func (s *SelfService) linkPending(stash *flow.Stash, o *outcome) {
	link, ok := keyOIDCLink.Get(stash)
	if !ok || link.IdentityID == "" {
		return
	}
	inner := o.tx
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		if inner != nil {
			if err := inner(c, o); err != nil {
				return err
			}
		}
		if o.next != statePassedChallenge {
			return nil
		}
		if o.identityID != link.IdentityID {
			o.identityID, o.ident, o.next, o.oidcLogin = "", nil, "", false
			o.messages = []Text{{ID: msgLinkedDoNotMatch, Type: textError, Text: "Linked credentials do not match."}}
			return nil
		}
		fc := c.Base()
		i, err := s.ids.WithTx(fc.Tx()).LinkOIDC(fc.Context(), o.identityID, link.Link)
		if takenInTx(err) {
			// The provider account was linked elsewhere meanwhile: sign in
			// without the link.
			keyOIDCLink.Delete(fc.Stash())
			return nil
		}
		if err != nil {
			return err
		}
		o.ident = i
		keyOIDCLink.Delete(fc.Stash())
		return nil
	}
}

// oidcFinish answers the oidc strategy's special outcomes and reports
// whether it did: the redirect to the provider, a sign-up that happened in
// a login flow (registration hooks apply), a sign-in from a registration
// flow (login hooks apply), and traits still missing after a login flow's
// sign-up (a registration flow continues).
func (s *SelfService) oidcFinish(w http.ResponseWriter, r *http.Request, kind core.FlowKind, sub *submission, o *outcome, res *flow.Result, tok []byte, jsonAnswer bool) bool {
	switch {
	case o.redirect != "":
		c := s.csrf.cookie.cookie(oidcStateCookie, o.oidcState)
		c.Path = "/" + oidcCallbackPath
		c.MaxAge = int(res.Flow.ExpiresAt.Sub(s.now()).Seconds())
		http.SetCookie(w, c)
		if !jsonAnswer {
			redirect(w, r, o.redirect)
			return true
		}
		s.writeError(w, r, true, browserLocationChange(o.redirect))
		return true
	case res.Ended && res.Flow.Type == "api" && keyExchange.Has(res.Stash) && !jsonAnswer && o.identityID != "":
		exID, _ := keyExchange.Get(res.Stash)
		s.finishExchange(w, r, sub, o, res, exID)
		return true
	case res.Ended && kind == core.FlowLogin && o.oidcSignedUp:
		s.finishRegistration(w, r, sub, o, res, tok, jsonAnswer)
		return true
	case res.Ended && kind == core.FlowRegistration && o.oidcLogin:
		s.finishLogin(w, r, sub, o, res, tok, jsonAnswer)
		return true
	case !res.Ended && kind == core.FlowRegistration && o.toLogin != nil:
		// The address belongs to an account: a login flow for it carries
		// the answer and the provider link (Kratos' registrationToLogin).
		link, msgs, values := *o.toLogin, o.messages, o.values
		s.handOver(w, r, res, core.FlowLogin, "login", tok, jsonAnswer, func(st *flow.Stash) {
			keyOIDCLink.Set(st, link)
			keyMessages.Set(st, msgs)
			keyValues.Set(st, values)
		})
		return true
	case !res.Ended && kind == core.FlowLogin && o.oidcTraits:
		link, _ := keyOIDCLink.Get(res.Stash)
		values, _ := keyValues.Get(res.Stash)
		msgs, _ := keyNodeMessages.Get(res.Stash)
		s.handOver(w, r, res, core.FlowRegistration, "registration", tok, jsonAnswer, func(st *flow.Stash) {
			keyOIDCLink.Set(st, link)
			keyValues.Set(st, values)
			keyNodeMessages.Set(st, msgs)
		})
		return true
	}
	return false
}

// oidcCallback is GET|POST /self-service/methods/oidc/callback/{provider}:
// the provider's answer is checked against the flow and the browser, then
// applied to the flow as a step of the oidc strategy.
func (s *SelfService) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if !s.oidcEnabled() {
		s.writeError(w, r, false, &core.Error{Code: core.CodeNotFound, Message: "Third-party sign-in is not enabled."})
		return
	}
	if r.Method == http.MethodPost {
		// Providers answering with response_mode=form_post (Apple) post
		// cross-site, which leaves the Lax state cookie behind: continue as
		// a top-level GET, which carries it.
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		if err := r.ParseForm(); err != nil {
			s.writeError(w, r, false, &core.Error{Code: core.CodeInvalid, Message: "The provider's answer could not be read."})
			return
		}
		u := *r.URL
		u.RawQuery = r.PostForm.Encode()
		http.Redirect(w, r, strings.TrimRight(s.public, "/")+u.RequestURI(), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	p, err := s.oidc.Provider(r.PathValue("provider"))
	if err != nil {
		s.writeError(w, r, false, err)
		return
	}
	notFound := &core.Error{Code: core.CodeNotFound, Message: "The sign-in this answer belongs to was not found. Please start again."}
	fid, ok := core.ParseID(oidc.FlowID(q.Get("state")))
	if !ok {
		s.writeError(w, r, false, notFound)
		return
	}
	f, err := s.st.GetFlow(ctx, fid)
	if err != nil || f.Face != "kratos" || (f.Kind != core.FlowLogin && f.Kind != core.FlowRegistration && f.Kind != core.FlowSettings) {
		s.writeError(w, r, false, notFound)
		return
	}
	kind := f.Kind
	res, err := s.engine.PeekFlow(ctx, s.defs[kind], f)
	if errors.Is(err, flow.ErrExpired) {
		s.replaceExpired(w, r, kind, fid, false)
		return
	}
	if err != nil {
		s.writeError(w, r, false, notFound)
		return
	}
	cookie := ""
	if c, err := r.Cookie(oidcStateCookie); err == nil {
		cookie = c.Value
	}
	clear := s.csrf.cookie.cookie(oidcStateCookie, "")
	clear.Path, clear.MaxAge = "/"+oidcCallbackPath, -1
	http.SetCookie(w, clear)
	pend, _ := keyOIDCPending.Get(res.Stash)
	if sp, ok := s.oidc.OpenPending(fid, cookie); ok {
		// A browser flow's round trip, sealed for this flow in the state
		// cookie (oidcSubmit): the state's hash in it binds the answer to
		// this browser as the cookie's state did, so the state is checked
		// against that hash alone. A plain state cookie is a round trip the
		// flow keeps (an API flow's, a settings flow's link, or one started
		// before the state was sealed).
		pend, cookie = sp, q.Get("state")
	} else if res.Flow.Type == "api" && keyExchange.Has(res.Stash) {
		// The app's browser holds no cookie of the flow: the init code,
		// which only the app has, binds the round trip instead.
		cookie = q.Get("state")
	}
	claims, tokens, err := s.oidc.Finish(ctx, p, pend, oidc.Callback{State: q.Get("state"), CookieState: cookie,
		Code: q.Get("code"), Error: q.Get("error"), ErrorDescription: q.Get("error_description")})
	sub := &submission{r: r, res: res, body: map[string]any{}}
	sub.sess, sub.ident = s.optionalSession(r)
	var o *outcome
	if err != nil {
		var ce *core.Error
		if !errors.As(err, &ce) || ce.Code == core.CodeInternal {
			s.writeError(w, r, false, err)
			return
		}
		if ce.Code == core.CodeUnavailable {
			s.errs.Log.Warn("oidc: callback failed", "provider", p.ID, "error", ce.Cause)
		}
		o = &outcome{messages: []Text{genericText(ce.Message)}}
	} else if kind == core.FlowSettings {
		// Linking: only the settings flow's own identity, signed in in
		// this browser, may add a provider.
		if sess, ident := s.optionalSession(r); sess == nil || ident == nil || ident.ID != f.IdentityID {
			o = &outcome{messages: []Text{genericText("Sign in to this account again in this browser to link " + p.DisplayName() + ".")}}
		} else {
			o, err = s.oidcLinkSettings(ctx, f.IdentityID, p, claims, tokens)
			if err == nil {
				sub.sess, sub.ident = sess, ident
				o, err = s.preSettings(sub, "oidc", o)
			}
			if err != nil {
				s.writeError(w, r, false, err)
				return
			}
		}
	} else if o, err = s.oidcComplete(sub, kind, p, claims, tokens); err != nil {
		s.writeError(w, r, false, err)
		return
	} else if kind == core.FlowLogin && o.oidcLogin && o.tx == nil {
		// "Confirm with <provider>": a provider the account already has
		// proves it as well as a password does.
		s.linkPending(res.Stash, o)
	}
	stash := o.stash
	o.stash = func(st *flow.Stash) {
		keyOIDCPending.Delete(st)
		if kind != core.FlowSettings {
			// A browser flow's redirect left the flow as it was (sealed): its
			// method is oidc from here on, whatever the answer, as when the
			// redirect was a step of it.
			keyActive.Set(st, "oidc")
		}
		if stash != nil {
			stash(st)
		}
	}
	var tok []byte
	if res.Flow.Type == "browser" {
		tok = s.csrf.token(r)
	}
	step := context.WithValue(ctx, outcomeKey{}, &stepOutcome{o: o, prepared: *o})
	res2, err := s.engine.Submit(step, s.defs[kind], flow.Submission{FlowID: fid, Action: "oidc", CSRFToken: res.Flow.CSRFToken, Input: json.RawMessage(`{}`), Flow: f,
		InTx: s.stepInTx(kind, r, sub, o, tok, false, func() *http.Request { return r })})
	switch {
	case errors.Is(err, flow.ErrExpired):
		s.replaceExpired(w, r, kind, fid, false)
		return
	case errors.Is(err, flow.ErrEnded):
		s.showForm(w, r, kind, res, nil, tok, false, retryText(string(kind)))
		return
	case err != nil:
		s.writeError(w, r, false, &core.Error{Code: core.CodeInternal, Message: "Completing the sign-in failed.", Cause: err})
		return
	}
	show := o.ident
	if show == nil {
		show = sub.ident
	}
	s.finish(w, r, kind, sub, o, res2, show, tok, false)
}

// Kratos' settings texts of the oidc group.
const (
	msgSettingsLinkOIDC   = 1050002
	msgSettingsUnlinkOIDC = 1050003
)

// oidcSettingsStrategies returns the settings flow's link/unlink buttons.
func (s *SelfService) oidcSettingsStrategies() []strategy {
	if !s.oidcEnabled() {
		return nil
	}
	return []strategy{{
		method:  "oidc",
		inputs:  []flow.Input{{Name: "link", Type: flow.TypeString}, {Name: "unlink", Type: flow.TypeString}},
		fields:  []string{"link", "unlink"},
		nodes:   s.oidcSettingsNodes,
		prepare: s.oidcSettings,
	}}
}

// linkedSubject returns the subject the identity is linked to at the
// provider, or "".
func linkedSubject(i *core.Identity, provider string) string {
	cfg, err := oidc.Links(i)
	if err != nil {
		return ""
	}
	for _, l := range cfg.Providers {
		if l.Provider == provider {
			return l.Subject
		}
	}
	return ""
}

// oidcSettingsNodes offers "Link X" for each provider the identity is not
// linked to and "Unlink X" for the others.
func (s *SelfService) oidcSettingsNodes(v *view) []Node {
	if v.ident == nil {
		return nil
	}
	var nodes []Node
	for _, p := range s.oidc.Providers() {
		ctx := map[string]any{"provider": p.DisplayName()}
		if linkedSubject(v.ident, p.ID) != "" {
			nodes = append(nodes, submitNode(groupOIDC, "unlink", p.ID, Text{ID: msgSettingsUnlinkOIDC, Type: textInfo, Text: "Unlink " + p.DisplayName(), Context: ctx}))
		} else {
			nodes = append(nodes, submitNode(groupOIDC, "link", p.ID, Text{ID: msgSettingsLinkOIDC, Type: textInfo, Text: "Link " + p.DisplayName(), Context: ctx}))
		}
	}
	return nodes
}

// oidcSettings starts linking a provider (a round trip like sign-in) or
// unlinks one; both need a privileged session, and the last way to sign in
// cannot be unlinked.
func (s *SelfService) oidcSettings(sub *submission) (*outcome, error) {
	ctx := sub.r.Context()
	i := sub.ident
	if id := sub.str("unlink"); id != "" {
		p, err := s.oidc.Provider(id)
		if err != nil {
			return &outcome{messages: []Text{genericText(core.ErrorMessage(err))}}, nil
		}
		subject := linkedSubject(i, p.ID)
		if subject == "" {
			return &outcome{messages: []Text{genericText("This account is not linked to " + p.DisplayName() + ".")}}, nil
		}
		if !s.privileged(sub.sess) {
			return nil, s.reauth(sub)
		}
		o := &outcome{}
		o.tx = func(c *flow.ActionContext, o *outcome) error {
			fc := c.Base()
			cur, err := fc.Tx().GetIdentity(fc.Context(), i.ID)
			if err != nil {
				return err
			}
			n, err := s.firstFactorCount(fc.Context(), cur, fc.Tx())
			if err != nil {
				return err
			}
			if n < 2 {
				o.messages = []Text{genericText("You can not unlink " + p.DisplayName() + ": it is the last way to sign in to this account. Set a password or link another provider first.")}
				return nil
			}
			ids := s.ids.WithTx(fc.Tx())
			if err := ids.DeleteCredential(fc.Context(), i.ID, core.CredentialOIDC, oidc.Identifier(p.ID, subject)); err != nil {
				return err
			}
			updated, err := ids.Get(fc.Context(), i.ID)
			if err != nil {
				return err
			}
			o.ident, o.next, o.messages = updated, stateSuccess, []Text{msgSettingsSaved}
			return nil
		}
		return o, nil
	}
	p, err := s.oidc.Provider(sub.str("link"))
	if err != nil {
		return &outcome{messages: []Text{genericText(core.ErrorMessage(err))}}, nil
	}
	if linkedSubject(i, p.ID) != "" {
		return &outcome{messages: []Text{genericText("This account is linked to " + p.DisplayName() + " already.")}}, nil
	}
	if !s.privileged(sub.sess) {
		return nil, s.reauth(sub)
	}
	if sub.res.Flow.Type == "api" {
		return &outcome{messages: []Text{genericText("Linking " + p.DisplayName() + " needs a browser settings flow.")}}, nil
	}
	start, err := s.oidc.Begin(ctx, p, sub.res.Flow.ID, s.oidcRedirectURI(p.ID), nil)
	if err != nil {
		if ce := (*core.Error)(nil); errors.As(err, &ce) && ce.Code != core.CodeInternal {
			return &outcome{messages: []Text{genericText(ce.Message)}}, nil
		}
		return nil, err
	}
	return &outcome{next: sub.res.State, redirect: start.URL, oidcState: start.State,
		stash: func(st *flow.Stash) { keyOIDCPending.Set(st, start.Pending) }}, nil
}

// oidcLinkSettings links verified claims to the settings flow's identity;
// a provider account linked to someone else is refused.
func (s *SelfService) oidcLinkSettings(ctx context.Context, identityID string, p *oidc.Provider, claims *oidc.Claims, tokens *oidc.Tokens) (*outcome, error) {
	op, err := s.oidc.Credential(p, claims, tokens)
	if err != nil {
		return nil, err
	}
	o := &outcome{}
	o.tx = func(c *flow.ActionContext, o *outcome) error {
		fc := c.Base()
		i, err := s.ids.WithTx(fc.Tx()).LinkOIDC(fc.Context(), identityID, op)
		if takenInTx(err) {
			o.messages = []Text{genericText("This " + p.DisplayName() + " account is linked to another account already.")}
			return nil
		}
		if err != nil {
			return err
		}
		o.ident, o.next, o.messages = i, stateSuccess, []Text{msgSettingsSaved}
		return nil
	}
	return o, nil
}

// handOver starts a flow of kind (path: its self-service path segment) of
// res's type, with res's return_to, seeded by seed, and shows its form: an
// OIDC answer that continues in another flow (registration to login for an
// address in use, login to registration for missing traits).
func (s *SelfService) handOver(w http.ResponseWriter, r *http.Request, res *flow.Result, kind core.FlowKind, path string, tok []byte, jsonAnswer bool, seed func(*flow.Stash)) {
	var csrfToken []byte
	if res.Flow.Type == "browser" {
		csrfToken = s.csrf.token(r)
	}
	next, err := s.start(r.Context(), kind, res.Flow.Type,
		s.public+"self-service/"+path+"/"+res.Flow.Type, val(keyReturnTo, res.Stash), csrfToken, initState{seed: seed})
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	s.showForm(w, r, kind, next, nil, tok, jsonAnswer)
}
