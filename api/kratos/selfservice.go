package kratos

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/lookup"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/webhook"
)

// SelfServiceOptions are the dependencies of a SelfService.
type SelfServiceOptions struct {
	// Store is the storage (required).
	Store store.Store
	// Identities is the identity service registration and settings write
	// through (required).
	Identities *identity.Service
	// Sessions issues and verifies sessions (required).
	Sessions *session.Manager
	// Keys signs whoami?tokenize_as JWTs; nil answers tokenize_as with 400.
	Keys *session.Keys
	// Hasher verifies passwords at login (required).
	Hasher *password.Hasher
	// Attempts is the attempt policy both faces share (ratelimit.attempts,
	// ratelimit.send): every password, code, link, TOTP and lookup code
	// check and every code or link sent goes through it. Nil limits
	// nothing (tests only).
	Attempts *ratelimit.Policy
	// Cookies seals the session cookie (required; cipher.Cipher over
	// secrets.cookie/secrets.cipher).
	Cookies Sealer
	// PublicBaseURL is serve.public.base_url (required).
	PublicBaseURL string
	// SelfService and Session are the configuration sections.
	SelfService config.SelfService
	Session     config.Session
	// RegistrationStyle overrides selfservice.flows.registration.style:
	// "profile_first" (two screens) or "unified" (traits and credentials on
	// one screen). Empty uses the configuration (profile_first when that is
	// empty too).
	RegistrationStyle string
	// Verification, when set, runs after registration and after a settings
	// change of traits, to send verification messages (part B).
	Verification VerificationHook
	// AddressFlows, when set, enables the recovery and verification flows
	// with the code and link methods (recovery_verification.go); they
	// answer self_service_flow_disabled without it.
	AddressFlows *AddressFlowOptions
	// TOTP and Lookup are the second factors of selfservice.methods.totp and
	// .lookup_secret; each is required when its method is enabled and
	// ignored otherwise.
	TOTP   *totp.Method
	Lookup *lookup.Method
	// Jsonnet runs the tokenize_as templates' claims mappers
	// (jsonnet.Evaluator); required when a template sets claims_mapper_url.
	Jsonnet session.Evaluator
	// FetchClient fetches the http(s):// key sets and claims mappers of the
	// tokenize_as templates at start (fetch.Client() when nil).
	FetchClient *http.Client
	// Breaches counts the data breaches a new password appears in
	// (pwned.Counter); required when
	// selfservice.methods.password.config.haveibeenpwned_enabled is true.
	Breaches password.BreachCounter
	// OIDC is third-party sign-in (selfservice.methods.oidc); required
	// when the method is enabled.
	OIDC *oidc.Method
	// Passkeys runs the WebAuthn ceremonies of the passkey method (the
	// relying party of selfservice.methods.passkey.config.rp); required
	// when that method is enabled.
	Passkeys *webauthn.Method
	// SecurityKeys runs the ceremonies of the webauthn method (security
	// keys; the same relying party); required when that method is
	// enabled.
	SecurityKeys *webauthn.Method
	// Now is the clock and Random the source of CSRF tokens and masks (for
	// tests; time.Now and crypto/rand when nil).
	Now    func() time.Time
	Random io.Reader
	// Log receives internal errors (slog.Default when nil).
	Log *slog.Logger
	// MaxBodyBytes limits form and JSON bodies (1 MiB when 0).
	MaxBodyBytes int64
	// Outcomes, when set, counts login and registration steps (metrics).
	Outcomes AuthRecorder
	// WebHooks runs the web_hook hooks of the flows; nil when none is
	// configured.
	WebHooks *webhook.Kratos
}

// VerificationHook sends a verification message to the identity's
// unverified addresses after a registration (or a settings change of them)
// and returns the show_verification_ui entries to put into continue_with.
// flowType is "browser" or "api". Part B implements it.
type VerificationHook func(ctx context.Context, r *http.Request, i *core.Identity, flowType string) ([]ContinueWith, error)

// ContinueWith is one entry of a continue_with list; Action discriminates.
type ContinueWith struct {
	Action            string            `json:"action"`
	OrySessionToken   string            `json:"ory_session_token,omitempty"`
	RedirectBrowserTo string            `json:"redirect_browser_to,omitempty"`
	Flow              *ContinueWithFlow `json:"flow,omitempty"`
}

// ContinueWithFlow names the flow a show_*_ui entry points at.
type ContinueWithFlow struct {
	ID                string `json:"id"`
	VerifiableAddress string `json:"verifiable_address,omitempty"`
	URL               string `json:"url,omitempty"`
}

// SelfService serves Kratos' self-service flows (login, registration,
// settings, logout, errors) and the public session endpoints on the public
// listener.
type SelfService struct {
	outcomes  AuthRecorder // nil: not counted
	webhooks  *webhook.Kratos
	st        store.Store
	ids       *identity.Service
	sessions  *session.Manager
	keys      *session.Keys
	tokenizer *session.Tokenizer // whoami?tokenize_as; nil without templates
	auth      *password.Authenticator
	engine    *flow.Engine
	public    string
	cfg       config.SelfService
	sessCfg   config.Session
	style     string
	verify    VerificationHook
	now       func() time.Time
	errs      ErrorWriter
	maxBody   int64
	csrf      *csrf
	cookie    *sessionCookie
	returnTo  *returnTo
	policy    password.Policy
	defs      map[core.FlowKind]*flow.Definition
	uiURLs    map[core.FlowKind]string
	lifespans map[core.FlowKind]time.Duration
	// totp and lookup are the enabled second factors (nil when disabled).
	totp     *totp.Method
	lookup   *lookup.Method
	attempts *ratelimit.Policy
	// oidc is third-party sign-in (nil when disabled).
	oidc *oidc.Method
	// addr runs recovery and verification (part B); nil unless
	// SelfServiceOptions.AddressFlows is set.
	addr *addressFlows
	// passkeys runs the passkey method's ceremonies; nil when the method
	// is off.
	passkeys *webauthn.Method
	// securityKeys runs the webauthn method's ceremonies; nil when the
	// method is off.
	securityKeys *webauthn.Method
	// traitCache holds each identity schema's trait fields
	// (*schema.Schema → []traitField, see schemaFields).
	traitCache sync.Map
	// stratCache holds each kind's strategies (core.FlowKind →
	// []strategy, see strategies).
	stratCache sync.Map
}

// NewSelfService returns the self-service handler over o. It fails when a
// required option is missing or a flow cannot be built.
func NewSelfService(o SelfServiceOptions) (*SelfService, error) {
	if o.Store == nil || o.Identities == nil || o.Sessions == nil || o.Hasher == nil || o.Cookies == nil || o.PublicBaseURL == "" {
		return nil, errors.New("kratos: Store, Identities, Sessions, Hasher, Cookies and PublicBaseURL are required")
	}
	s := &SelfService{st: o.Store, ids: o.Identities, sessions: o.Sessions, keys: o.Keys,
		public: strings.TrimRight(o.PublicBaseURL, "/") + "/", cfg: o.SelfService, sessCfg: o.Session,
		style: o.RegistrationStyle, verify: o.Verification, now: o.Now, errs: ErrorWriter{Log: o.Log}, maxBody: o.MaxBodyBytes,
		outcomes: o.Outcomes, webhooks: o.WebHooks}
	if s.now == nil {
		s.now = time.Now
	}
	if o.SelfService.Methods.TOTP.Enabled {
		if o.TOTP == nil {
			return nil, errors.New("kratos: selfservice.methods.totp.enabled needs SelfServiceOptions.TOTP")
		}
		s.totp = o.TOTP
	}
	if o.SelfService.Methods.LookupSecret.Enabled {
		if o.Lookup == nil {
			return nil, errors.New("kratos: selfservice.methods.lookup_secret.enabled needs SelfServiceOptions.Lookup")
		}
		s.lookup = o.Lookup
	}
	s.attempts = o.Attempts
	if o.SelfService.Methods.OIDC.Enabled {
		if o.OIDC == nil {
			return nil, errors.New("kratos: selfservice.methods.oidc.enabled needs SelfServiceOptions.OIDC")
		}
		s.oidc = o.OIDC
	}
	random := o.Random
	if random == nil {
		random = rand.Reader
	}
	if s.errs.Log == nil {
		s.errs.Log = slog.Default()
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.style == "" {
		s.style = o.SelfService.Flows.Registration.Style
	}
	if s.style == "" {
		s.style = config.RegistrationProfileFirst
	}
	if s.style != config.RegistrationProfileFirst && s.style != config.RegistrationUnified {
		return nil, fmt.Errorf("kratos: registration style %q is not profile_first or unified", s.style)
	}
	ck := o.Session.Cookie
	attrs := cookieAttrs{Domain: ck.Domain, Path: ck.Path, SameSite: sameSite(ck.SameSite), Secure: ck.Secure}
	s.csrf = &csrf{name: CSRFCookieName(s.public), cookie: attrs, random: random}
	name := ck.Name
	if name == "" {
		name = "ory_kratos_session"
	}
	s.cookie = &sessionCookie{name: name, attrs: attrs, persistent: ck.Persistent, seal: o.Cookies}
	def := o.SelfService.DefaultBrowserReturnURL
	if def == "" {
		def = s.public
	}
	var err error
	if s.returnTo, err = newReturnTo(o.SelfService.AllowedReturnURLs, s.public, def); err != nil {
		return nil, fmt.Errorf("kratos: %w", err)
	}
	if o.SelfService.Methods.Passkey.Enabled {
		if o.Passkeys == nil {
			return nil, errors.New("kratos: selfservice.methods.passkey.enabled needs the WebAuthn relying party (SelfServiceOptions.Passkeys)")
		}
		s.passkeys = o.Passkeys
	}
	if o.SelfService.Methods.WebAuthn.Enabled {
		if o.SecurityKeys == nil {
			return nil, errors.New("kratos: selfservice.methods.webauthn.enabled needs the WebAuthn relying party (SelfServiceOptions.SecurityKeys)")
		}
		s.securityKeys = o.SecurityKeys
	}
	pc := o.SelfService.Methods.Password.Config
	s.policy = password.Policy{MinLength: pc.MinPasswordLength, IdentifierSimilarityCheck: pc.IdentifierSimilarityCheckEnabled}
	if pc.HaveIBeenPwnedEnabled {
		if o.Breaches == nil {
			return nil, errors.New("kratos: selfservice.methods.password.config.haveibeenpwned_enabled needs a breach counter (SelfServiceOptions.Breaches)")
		}
		s.policy.Breaches, s.policy.MaxBreaches, s.policy.IgnoreLookupErrors = o.Breaches, int64(pc.MaxBreaches), pc.IgnoreNetworkErrors
	}
	if s.policy.MinLength <= 0 {
		s.policy.MinLength = password.DefaultMinLength
	}
	s.auth = &password.Authenticator{Store: o.Store, Hasher: o.Hasher, Policy: o.Attempts, NotFound: store.ErrNotFound}
	s.engine = flow.NewEngine(o.Store, s.now, random)
	if s.tokenizer, err = newTokenizer(o.Session.WhoAmI.Tokenizer, s.public, s.now, o.Jsonnet, o.FetchClient); err != nil {
		return nil, fmt.Errorf("kratos: %w", err)
	}
	f := o.SelfService.Flows
	s.uiURLs = map[core.FlowKind]string{
		core.FlowLogin: f.Login.UIURL, core.FlowRegistration: f.Registration.UIURL, core.FlowSettings: f.Settings.UIURL,
		core.FlowRecovery: f.Recovery.UIURL, core.FlowVerification: f.Verification.UIURL, flowError: f.Error.UIURL,
	}
	for k, v := range s.uiURLs {
		if v == "" {
			s.uiURLs[k] = s.public + "ui/" + string(k)
		}
	}
	s.lifespans = map[core.FlowKind]time.Duration{
		core.FlowLogin: f.Login.Lifespan, core.FlowRegistration: f.Registration.Lifespan, core.FlowSettings: f.Settings.Lifespan,
		core.FlowRecovery: f.Recovery.Lifespan, core.FlowVerification: f.Verification.Lifespan,
	}
	s.defs = map[core.FlowKind]*flow.Definition{}
	// Recovery and verification first: they provide the courier and the
	// code issuer the login and registration code strategies use.
	if o.AddressFlows != nil {
		if err := s.enableRecoveryVerification(*o.AddressFlows); err != nil {
			return nil, err
		}
	}
	for kind, build := range map[core.FlowKind]func() *flow.Builder{
		core.FlowLogin: s.loginDefinition, core.FlowRegistration: s.registrationDefinition, core.FlowSettings: s.settingsDefinition,
	} {
		b := build().Kind(kind)
		if d := s.lifespans[kind]; d > 0 {
			b.TTL(d)
		}
		if s.defs[kind], err = b.Build(); err != nil {
			return nil, fmt.Errorf("kratos: %s flow: %w", kind, err)
		}
	}
	return s, nil
}

// MountPublic registers the self-service and public session routes on the
// public listener's mux (next to Handler.MountPublic's schema routes).
func (s *SelfService) MountPublic(mux *http.ServeMux) {
	for _, kind := range []core.FlowKind{core.FlowLogin, core.FlowRegistration, core.FlowSettings} {
		k := kind
		mux.HandleFunc("GET /self-service/"+string(k)+"/browser", func(w http.ResponseWriter, r *http.Request) { s.initFlow(w, r, k, "browser") })
		mux.HandleFunc("GET /self-service/"+string(k)+"/api", func(w http.ResponseWriter, r *http.Request) { s.initFlow(w, r, k, "api") })
		mux.HandleFunc("GET /self-service/"+string(k)+"/flows", func(w http.ResponseWriter, r *http.Request) { s.getFlow(w, r, k) })
		mux.HandleFunc("POST /self-service/"+string(k), func(w http.ResponseWriter, r *http.Request) { s.submitFlow(w, r, k) })
		mux.HandleFunc("GET /self-service/"+string(k)+"", func(w http.ResponseWriter, r *http.Request) { s.submitFlow(w, r, k) })
	}
	mux.HandleFunc("GET /sessions/token-exchange", s.exchangeSessionToken)
	mux.HandleFunc("GET /self-service/methods/oidc/callback/{provider}", s.oidcCallback)
	mux.HandleFunc("POST /self-service/methods/oidc/callback/{provider}", s.oidcCallback)
	mux.HandleFunc("GET /self-service/errors", s.getError)
	s.mountAddressFlows(mux) // recovery and verification (recovery_verification.go)
	mux.HandleFunc("GET /self-service/logout/browser", s.createBrowserLogout)
	mux.HandleFunc("GET /self-service/logout", s.updateLogout)
	mux.HandleFunc("DELETE /self-service/logout/api", s.performNativeLogout)
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "OPTIONS", "TRACE", "CONNECT"} {
		mux.HandleFunc(m+" /sessions/whoami", s.whoami)
	}
	mux.HandleFunc("GET /sessions", s.listMySessions)
	mux.HandleFunc("DELETE /sessions", s.deleteMySessions)
	mux.HandleFunc("DELETE /sessions/{id}", s.deleteMySession)
	mux.HandleFunc("GET "+WebAuthnScriptPath, serveWebAuthnJS) // also answers HEAD
	mux.HandleFunc("GET /.well-known/change-password", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.public+"self-service/settings/browser", http.StatusSeeOther)
	})
}

// Stash keys every Kratos flow uses. Sticky keys survive a step back.
var (
	keyRequestURL   = flow.NewStickyKey[string]("kratos.request_url")
	keyReturnTo     = flow.NewStickyKey[string]("kratos.return_to")
	keyCSRF         = flow.NewStickyKey[string]("kratos.csrf")
	keyActive       = flow.NewStickyKey[string]("kratos.active")
	keyMessages     = flow.NewKey[[]Text]("kratos.messages")
	keyNodeMessages = flow.NewKey[map[string][]Text]("kratos.node_messages")
	keyValues       = flow.NewKey[map[string]json.RawMessage]("kratos.values")
	keyContinueWith = flow.NewStickyKey[[]ContinueWith]("kratos.continue_with")
)

// flowError is the kind under which stored self-service errors are kept in
// the flows table (they have an id, a payload and an expiry, like a flow).
const flowError core.FlowKind = "error"

// outcome is what a strategy's prepare step decided, applied to the flow
// inside the step's transaction by the strategy's action.
type outcome struct {
	// identityID is the identity the flow is now about ("" keeps it).
	identityID string
	// messages and nodeMessages are shown with the flow; values are kept on
	// its nodes (identifier, traits).
	messages     []Text
	nodeMessages map[string][]Text
	values       map[string]json.RawMessage
	// next is the state to continue to; "" shows the current state again
	// (with the messages, as a failed step).
	next string
	// stash writes further values.
	stash func(st *flow.Stash)
	// ident is the identity after the step (for the response).
	ident *core.Identity
	// traitsChanged tells the finish step to run the verification hook.
	traitsChanged bool
	// clearActive leaves the flow without an active method (Kratos resets
	// it when the profile_first registration shows the credentials).
	clearActive bool
	// relocate shows the form again as a new screen of the flow rather
	// than a failed step: JSON clients get 422 browser_location_change_required
	// to the flow's UI (as Kratos answers a WebAuthn method asked to begin
	// its ceremony), browsers the usual 303.
	relocate bool
	// redirect sends the browser to a provider (oidc), with oidcState as
	// the state cookie; oidcLogin, oidcSignedUp and oidcTraits mark a
	// provider sign-in, a sign-up, and a sign-up waiting for traits
	// (strategy_oidc.go's oidcFinish answers them).
	redirect     string
	oidcState    string
	oidcLogin    bool
	oidcSignedUp bool
	oidcTraits   bool
	// unwritten marks a step that changes nothing the flow keeps (the
	// redirect to a provider of a browser flow, whose round trip the
	// browser carries): submitFlow answers it without writing the flow
	// when the engine admits it.
	unwritten bool
	// toLogin hands a registration over to a new login flow that holds
	// the provider link until the user proves the account it names.
	toLogin *oidcLink
	// hooksQueued is set when the step's transaction queued the
	// asynchronous after-hooks of the finished step (queueAfterHooks): the
	// answer then calls only the synchronous ones.
	hooksQueued bool
	// tx, when set, runs first inside the step's transaction and may change
	// the outcome (a code is checked or sent and its message enqueued, a
	// registered identity is created). An error rolls the step back. It may
	// run more than once, each time on the outcome as prepare returned it.
	tx func(c *flow.ActionContext, o *outcome) error
	// untx, when set, runs outside any transaction when the step did not
	// commit (it failed or was refused before or in its transaction): what
	// tx would have written that must not be lost with it (a right
	// password taken back from the attempt limits).
	untx func(ctx context.Context) error
	// issued is the session the step's transaction issued or stepped up
	// (issueInTx); the answer hands it out instead of writing one.
	issued *issued
}

// issued is a session the finish step hands out.
type issued struct {
	session *core.Session
	token   string
	// added is set when the step added its method to the caller's
	// session rather than issuing a new one.
	added bool
}

type outcomeKey struct{}

// stepOutcome is what the step's context carries: the outcome the action
// applies and a copy of it as prepare returned it.
type stepOutcome struct {
	o        *outcome
	prepared outcome
}

// outcomeAction returns the engine action of a strategy: it applies the
// outcome prepared outside the transaction (found in the step's context).
func outcomeAction(name string, inputs []flow.Input, targets ...string) flow.Action {
	return flow.Action{Name: name, Inputs: inputs, Targets: targets, Execute: applyOutcome}
}

func applyOutcome(c *flow.ActionContext) error {
	so, _ := c.Base().Context().Value(outcomeKey{}).(*stepOutcome)
	if so == nil || so.o == nil {
		return errors.New("kratos: action submitted without a prepared outcome")
	}
	// Every run of the step starts from what prepare decided: the store
	// runs a transaction again after a serialisation failure, and a step
	// whose identity lost a race is submitted again (lostRace).
	*so.o = so.prepared
	o := so.o
	st := c.Base().Stash()
	keyMessages.Delete(st)
	keyNodeMessages.Delete(st)
	if o.tx != nil {
		if err := o.tx(c, o); err != nil {
			return err
		}
	}
	if len(o.messages) > 0 {
		keyMessages.Set(st, o.messages)
	}
	if len(o.nodeMessages) > 0 {
		keyNodeMessages.Set(st, o.nodeMessages)
	}
	if o.values != nil {
		keyValues.Set(st, o.values)
	}
	setActive(c, o)
	if o.identityID != "" {
		c.Base().SetIdentityID(o.identityID)
	}
	if o.stash != nil {
		o.stash(st)
	}
	if o.next == "" {
		return c.Error(&core.Error{Code: core.CodeInvalid, Message: "The form has errors."})
	}
	return c.Continue(o.next)
}

// setActive records the flow's active method after a step, as Kratos does:
// login and registration name the method once a step of it goes through
// (a code was sent, the user signed in or up) and keep the previous value
// when it fails; settings, recovery and verification name the method of
// every submission. The profile_first screen change clears it, so that
// UIs offer the credential methods (a set "profile" makes Ory Elements
// show only the profile group: the e-mail and Back).
func setActive(c *flow.ActionContext, o *outcome) {
	st := c.Base().Stash()
	switch kind := c.Base().Flow().Kind; {
	case c.Action() == errorAction:
	case o.clearActive:
		keyActive.Delete(st)
	case o.next != "" || (kind != core.FlowLogin && kind != core.FlowRegistration):
		keyActive.Set(st, c.Action())
	}
}

// errorAction is the internal action every open state offers so that the
// face can fold a message into a flow (no strategy for the method, a flow
// already completed); clients cannot name it.
const errorAction = "kratos:error"

func messageAction() flow.Action { return outcomeAction(errorAction, nil) }

// request is one self-service request as the face sees it.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	json bool // answer with JSON (SPA or native)
}

// isJSONRequest reports whether a browser request wants JSON: Accept
// prefers application/json over text/html, or the body is JSON (notes §2.1).
func isJSONRequest(r *http.Request) bool {
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		return true
	}
	return prefersJSON(r.Header.Get("Accept"))
}

// prefersJSON negotiates Accept among the offers text/html, text/*, */*
// and application/json (default text/html) the way Kratos does (gddo's
// NegotiateContentType: highest quality wins, a more specific match beats a
// wildcard at equal quality, earlier offers win ties).
func prefersJSON(accept string) bool {
	type spec struct {
		value string
		q     float64
	}
	var specs []spec
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		v := strings.ToLower(strings.TrimSpace(fields[0]))
		if v == "" {
			continue
		}
		q := 1.0
		for _, p := range fields[1:] {
			p = strings.TrimSpace(p)
			if strings.HasPrefix(p, "q=") {
				if f, err := strconv.ParseFloat(p[2:], 64); err == nil {
					q = f
				}
			}
		}
		specs = append(specs, spec{v, q})
	}
	best, bestQ, bestWild := "text/html", -1.0, 3
	for _, offer := range []string{"text/html", "text/*", "*/*", "application/json"} {
		for _, sp := range specs {
			switch {
			case sp.q == 0 || sp.q < bestQ:
			case sp.value == "*/*":
				if sp.q > bestQ || bestWild > 2 {
					best, bestQ, bestWild = offer, sp.q, 2
				}
			case strings.HasSuffix(sp.value, "/*"):
				if strings.HasPrefix(offer, sp.value[:len(sp.value)-1]) && (sp.q > bestQ || bestWild > 1) {
					best, bestQ, bestWild = offer, sp.q, 1
				}
			default:
				if sp.value == offer && (sp.q > bestQ || bestWild > 0) {
					best, bestQ, bestWild = offer, sp.q, 0
				}
			}
		}
	}
	return best == "application/json"
}

// flowURL returns the public URL of a self-service path.
func (s *SelfService) url(path string, q url.Values) string {
	u := s.public + strings.TrimLeft(path, "/")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// uiURL returns the UI page of a flow with ?flow=id (or ?id= for errors).
func (s *SelfService) uiURL(kind core.FlowKind, id string) string {
	u, err := url.Parse(s.uiURLs[kind])
	if err != nil {
		return s.uiURLs[kind]
	}
	if !u.IsAbs() {
		u, _ = url.Parse(s.public + strings.TrimLeft(s.uiURLs[kind], "/"))
	}
	q := u.Query()
	if kind == flowError {
		q.Set("id", id)
	} else {
		q.Set("flow", id)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redirect answers 303 See Other.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// identityFor loads the identity of a session, with its credentials.
func (s *SelfService) identityFor(ctx context.Context, sess *core.Session) (*core.Identity, error) {
	i, err := s.st.GetIdentity(ctx, sess.IdentityID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSession()
	}
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Loading the identity failed.", Cause: err}
	}
	return i, nil
}

// sessionToken returns the credentials a request carries: X-Session-Token,
// then the session cookie, then Authorization: Bearer (notes §6).
func (s *SelfService) sessionToken(r *http.Request) string {
	if t := strings.TrimSpace(r.Header.Get("X-Session-Token")); t != "" {
		return t
	}
	if t := s.cookie.token(r); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// currentSession returns the request's usable session and its active
// identity (with credentials), or a 401 session_inactive error. The
// session, the identity and its credentials are read in two statements.
func (s *SelfService) currentSession(r *http.Request) (*core.Session, *core.Identity, error) {
	tok := s.sessionToken(r)
	if tok == "" {
		return nil, nil, noSession()
	}
	sess, i, err := s.sessions.VerifyWithCredentials(r.Context(), tok)
	if err != nil {
		if core.ErrorCode(err) == core.CodeUnauthorized {
			return nil, nil, noSession()
		}
		return nil, nil, err
	}
	if i.State == core.IdentityInactive {
		return nil, nil, noSession()
	}
	return sess, i, nil
}

// hasSession reports whether the request carries a usable session (errors
// count as none).
func (s *SelfService) optionalSession(r *http.Request) (*core.Session, *core.Identity) {
	sess, i, err := s.currentSession(r)
	if err != nil {
		return nil, nil
	}
	return sess, i
}

// device describes the client of r for a session's device list.
func device(r *http.Request) core.Device {
	d := core.Device{IPAddress: clientIP(r), UserAgent: r.UserAgent()}
	city, country := r.Header.Get("Cf-Ipcity"), r.Header.Get("Cf-Ipcountry")
	switch {
	case city != "" && country != "":
		d.Location = city + ", " + country
	case country != "":
		d.Location = country
	}
	return d
}

// clientIP is the client's address as the api plumbing resolved it
// (serve.public.trusted_proxies).
func clientIP(r *http.Request) string { return api.ClientIP(r) }

// checkAttempt counts one attempt at a secret of kind for identity (the
// identity's id, or the identifier or address given) from r's client under
// the shared attempt policy, outside any transaction. It returns the 429
// (*rateLimited, with Retry-After) when a limit is reached.
func (s *SelfService) checkAttempt(r *http.Request, kind ratelimit.Kind, identity string) error {
	err := s.attempts.Check(r.Context(), kind, identity, clientIP(r))
	var ex *ratelimit.ExceededError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ex):
		return &rateLimited{retryAfter: ex.RetryAfter}
	default:
		return &core.Error{Code: core.CodeInternal, Message: "Checking the attempt limit failed.", Cause: err}
	}
}
