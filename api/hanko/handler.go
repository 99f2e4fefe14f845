package hanko

import (
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
)

// Options are the dependencies of a Handler. Every one is built in
// cmd/latchkey; nothing is looked up at run time.
type Options struct {
	// Store is the shared store (required).
	Store store.Store
	// Identities is the identity service (required).
	Identities *identity.Service
	// Sessions issues and revokes session rows (required).
	Sessions *session.Manager
	// Keys signs and verifies session JWTs and serves the JWKS (required).
	Keys *session.Keys
	// Hasher hashes new passwords (required).
	Hasher *password.Hasher
	// Policy checks new passwords; its MinLength is taken from
	// Config.Password.MinLength when zero.
	Policy password.Policy
	// Authenticator is unused and kept for compatibility: the Flow API's
	// password_login builds a password.Authenticator per step over the
	// step's transaction, with hanko.rate_limiter.password_limits counted
	// through Limiter.
	Authenticator *password.Authenticator
	// Codes issues and checks passcodes (required for passcode flows).
	Codes *code.Issuer
	// Courier enqueues passcode mails (required when Config.Email.Delivery).
	Courier *courier.Courier
	// Limiter enforces Hanko's own limits, hanko.rate_limiter.password_limits
	// and passcode_limits (per address and client IP, shared across flows
	// and replicas); nil disables them. A *ratelimit.DB counts inside the
	// flow step's transaction.
	Limiter ratelimit.Limiter
	// TOTP is the authenticator-app method (hanko.mfa.totp); nil when
	// hanko.mfa.totp is off. Required when it is on.
	TOTP *totp.Method
	// Attempts is the attempt policy both faces share (ratelimit.attempts,
	// ratelimit.send): every password, passcode and OTP check and every
	// passcode mail goes through it, whatever hanko.rate_limiter says. Nil
	// limits nothing (tests only).
	Attempts *ratelimit.Policy
	// Events queues webhook events; nil sends none.
	Events Events
	// WebAuthn runs passkey ceremonies over the one relying party; nil
	// when no usable relying party is configured: the flows then offer no
	// passkey (hanko.passkey.enabled turns them off too).
	WebAuthn *webauthn.Method
	// SecurityKeys runs the security-key ceremonies (hanko.mfa.security_keys:
	// attachment, user verification and attestation of its own) over the
	// same relying party and credential records; nil when no usable relying
	// party is configured or security keys are off: the flows then offer
	// none.
	SecurityKeys *webauthn.Method
	// OIDC is third-party sign-in over the one provider list; nil offers
	// none (thirdparty_oauth stays suspended).
	OIDC *oidc.Method
	// Config is the hanko: section (required; use the loaded config's
	// Hanko, whose defaults are Hanko's).
	Config config.Hanko
	// JWT is session.jwt: issuer and audience of session JWTs.
	JWT config.SessionJWT
	// AdminAPIKey, when set, is required as "Authorization: Bearer <key>"
	// on every admin route (serve.admin.api_key).
	AdminAPIKey string
	// Debug adds internal causes to flow errors (never in production).
	Debug bool
	// Signer signs the CSRF token a Flow API flow starts with
	// (secrets.default): the flow is not stored at its start but with its
	// first step, on whichever replica that step reaches, which
	// opens the flow again from its id and that token (flowopen.go). Nil
	// stores every flow at its start.
	Signer *cipher.Signer
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
	// NewID returns a new canonical UUID (uuid.NewString when nil).
	NewID func() string
	// Log receives internal errors, logged once at the edge
	// (slog.Default when nil).
	Log *slog.Logger
	// Outcomes, when set, counts login and registration steps (metrics).
	Outcomes AuthRecorder
	// MaxBodyBytes limits request bodies (64 KiB when 0).
	MaxBodyBytes int64
}

// Handler serves the Hanko face. Build it once with New; it is safe for
// concurrent use.
type Handler struct {
	outcomes AuthRecorder // nil: not counted
	store    store.Store
	ids      *identity.Service
	sessions *session.Manager
	keys     *session.Keys
	hasher   *password.Hasher
	policy   password.Policy
	auth     *password.Authenticator
	codes    *code.Issuer
	courier  *courier.Courier
	limiter  ratelimit.Limiter
	totp     *totp.Method
	signer   *cipher.Signer // nil: flows are stored at their start
	attempts *ratelimit.Policy
	events   Events
	wa       *webauthn.Method
	sk       *webauthn.Method
	oidc     *oidc.Method
	// redirects are hanko.third_party.allowed_redirect_urls, compiled.
	redirects []*regexp.Regexp
	cfg       config.Hanko
	jwt       config.SessionJWT
	apiKey    string
	debug     bool
	now       func() time.Time
	newID     func() string
	log       *slog.Logger
	maxBody   int64
	claims    *claimTemplate

	// Set by the parts of the package that register through addPart
	// (the Flow API), in registration order.
	parts []part
}

// part is a piece of the face that needs setting up with the Handler and
// mounting routes of its own (the flows). Each registers itself once from
// an init function with addPart, so this file need not know its types.
type part struct {
	name        string
	setup       func(h *Handler) error
	mountPublic func(h *Handler, mux *http.ServeMux)
}

var parts []part

// addPart registers a part of the face; call it only from init functions.
func addPart(p part) { parts = append(parts, p) }

// New returns a Handler over o. It fails when a required option is missing,
// when the JWT template does not parse, or when a part (a flow definition)
// fails to build.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Identities == nil || o.Sessions == nil || o.Keys == nil || o.Hasher == nil {
		return nil, errors.New("hanko: Store, Identities, Sessions, Keys and Hasher are required")
	}
	if o.Config.Session.Cookie.Name == "" || o.Config.Session.Lifespan <= 0 {
		return nil, errors.New("hanko: Config must be a loaded hanko section (cookie name and session lifespan are empty)")
	}
	h := &Handler{store: o.Store, ids: o.Identities, sessions: o.Sessions, keys: o.Keys, hasher: o.Hasher,
		policy: o.Policy, auth: o.Authenticator, codes: o.Codes, courier: o.Courier, limiter: o.Limiter,
		totp: o.TOTP, attempts: o.Attempts, signer: o.Signer,
		events: o.Events, wa: o.WebAuthn, sk: o.SecurityKeys, oidc: o.OIDC, cfg: o.Config, jwt: o.JWT, apiKey: o.AdminAPIKey, debug: o.Debug,
		now: o.Now, newID: o.NewID, log: o.Log, maxBody: o.MaxBodyBytes, outcomes: o.Outcomes}
	if o.Config.MFA.Enabled && o.Config.MFA.TOTP.Enabled && o.TOTP == nil {
		return nil, errors.New("hanko: hanko.mfa.totp.enabled needs Options.TOTP")
	}
	if h.policy.MinLength == 0 {
		h.policy.MinLength = o.Config.Password.MinLength
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.newID == nil {
		h.newID = uuid.NewString
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = 64 << 10
	}
	ct, err := parseClaimTemplate(o.Config.Session.JWTTemplate.Claims)
	if err != nil {
		return nil, err
	}
	h.claims = ct
	if h.redirects, err = compileRedirects(o.Config.ThirdParty.AllowedRedirectURLs); err != nil {
		return nil, errors.Join(errors.New("hanko: third_party"), err)
	}
	h.parts = append(h.parts, parts...)
	for _, p := range h.parts {
		if p.setup == nil {
			continue
		}
		if err := p.setup(h); err != nil {
			return nil, errors.Join(errors.New("hanko: set up "+p.name), err)
		}
	}
	return h, nil
}

// MountPublic registers the public listener's routes: the Flow API
// (/login, /registration, /profile), /.well-known/jwks.json,
// /sessions/validate, /me, /logout and /users/{id}. /health/* is mounted by
// cmd/latchkey for both faces (api.MountHealth). Wrap the listener with
// api.WithCORS(h.CORS(…)) so browsers on hanko.cors.allow_origins may call it.
func (h *Handler) MountPublic(mux *http.ServeMux) {
	h.mountPublicAPI(mux)
	for _, p := range h.parts {
		if p.mountPublic != nil {
			p.mountPublic(h, mux)
		}
	}
}

// MountAdmin registers the admin routes under hanko.admin_prefix (the root
// when empty): /users…, /audit_logs, /webhooks…, POST /sessions. With an
// AdminAPIKey every one requires it.
func (h *Handler) MountAdmin(mux *http.ServeMux) {
	h.mountAdminAPI(mux)
}

// adminRoute wraps an admin handler with the API key check.
func (h *Handler) adminRoute(f http.HandlerFunc) http.Handler {
	return api.Chain(f, api.WithAPIKey(h.apiKey, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusUnauthorized, "Unauthorized")
	})))
}

// limitBody caps the request body at the handler's limit.
func (h *Handler) limitBody(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
}
