package kratos

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/store"
)

// SessionStore is what the admin session endpoints need: the session
// queries, and transactions so that disabling or extending a session is one
// locked read-modify-write. store.Store satisfies it.
type SessionStore interface {
	store.Sessions
	Update(ctx context.Context, fn func(tx store.Tx) error) error
}

// Options are the dependencies of a Handler.
type Options struct {
	// Identities is the identity service (required).
	Identities *identity.Service
	// Sessions stores sessions (required; usually the store.Store).
	Sessions SessionStore
	// PublicBaseURL is the public listener's base URL, used for schema_url
	// (required, e.g. "http://127.0.0.1:4433/").
	PublicBaseURL string
	// AdminBaseURL, when set, makes MountPublic answer the admin identity and
	// session paths on the public listener with a 307 to the admin listener,
	// as Kratos does; when empty they are not found there.
	AdminBaseURL string
	// Decrypter opens OIDC tokens for include_credential=oidc; nil shows
	// them as empty strings.
	Decrypter Decrypter
	// Encrypter seals imported totp and lookup_secret credentials (the
	// same cipher as Decrypter); nil refuses importing them.
	Encrypter Encrypter
	// WebAuthn lists identities' passkeys and security keys, shown as the
	// passkey and webauthn credentials (include_credential shows their
	// config); nil shows none.
	WebAuthn WebAuthnLister
	// SessionLifespan is how far PATCH /admin/sessions/{id}/extend moves
	// expires_at from now (24h when 0).
	SessionLifespan time.Duration
	// EarliestPossibleExtend (session.earliest_possible_extend) makes the
	// extend endpoint leave a session alone until it expires within this
	// duration, as Kratos; 0 extends every time.
	EarliestPossibleExtend time.Duration
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
	// Log receives internal errors (slog.Default when nil).
	Log *slog.Logger
	// MaxBodyBytes limits single-identity request bodies (1 MiB when 0);
	// batch bodies may be 32 times larger.
	MaxBodyBytes int64
}

// Handler serves the Kratos admin identity and session API and the schema
// endpoints.
type Handler struct {
	ids            *identity.Service
	sessions       SessionStore
	public         string
	admin          string
	dec            Decrypter
	enc            Encrypter
	webauthn       WebAuthnLister
	lifespan       time.Duration
	earliestExtend time.Duration
	now            func() time.Time
	errs           ErrorWriter
	maxBody        int64
}

// New returns a Handler over o. It fails when a required option is missing.
func New(o Options) (*Handler, error) {
	if o.Identities == nil || o.Sessions == nil || o.PublicBaseURL == "" {
		return nil, errors.New("kratos: Identities, Sessions and PublicBaseURL are required")
	}
	h := &Handler{ids: o.Identities, sessions: o.Sessions, public: o.PublicBaseURL, admin: o.AdminBaseURL, dec: o.Decrypter, enc: o.Encrypter, webauthn: o.WebAuthn,
		lifespan: o.SessionLifespan, earliestExtend: o.EarliestPossibleExtend, now: o.Now, errs: ErrorWriter{Log: o.Log}, maxBody: o.MaxBodyBytes}
	if h.lifespan <= 0 {
		h.lifespan = 24 * time.Hour
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.errs.Log == nil {
		h.errs.Log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = 1 << 20
	}
	return h, nil
}

// Errors returns the handler's Kratos error writer (for the admin API key
// middleware and not-found handlers).
func (h *Handler) Errors() ErrorWriter { return h.errs }

// MountAdmin registers the admin routes (all under /admin; wrap the admin
// listener's mux in AdminPrefix so the un-prefixed Kratos paths work too).
func (h *Handler) MountAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/identities", h.get(h.listIdentities))
	mux.HandleFunc("POST /admin/identities", h.createIdentity)
	mux.HandleFunc("PATCH /admin/identities", h.batchPatchIdentities)
	mux.HandleFunc("GET /admin/identities/by/external/{externalID}", h.get(h.getIdentityByExternalID))
	mux.HandleFunc("GET /admin/identities/{id}", h.get(h.getIdentity))
	mux.HandleFunc("PUT /admin/identities/{id}", h.updateIdentity)
	mux.HandleFunc("PATCH /admin/identities/{id}", h.patchIdentity)
	mux.HandleFunc("DELETE /admin/identities/{id}", h.deleteIdentity)
	mux.HandleFunc("DELETE /admin/identities/{id}/credentials/{type}", h.deleteIdentityCredentials)
	mux.HandleFunc("GET /admin/identities/{id}/sessions", h.get(h.listIdentitySessions))
	mux.HandleFunc("DELETE /admin/identities/{id}/sessions", h.deleteIdentitySessions)
	mux.HandleFunc("GET /admin/sessions", h.get(h.listSessions))
	mux.HandleFunc("GET /admin/sessions/{id}", h.get(h.getSession))
	mux.HandleFunc("DELETE /admin/sessions/{id}", h.disableSession)
	mux.HandleFunc("PATCH /admin/sessions/{id}/extend", h.extendSession)
	mux.HandleFunc("GET /admin/schemas", h.get(h.listSchemas))
	mux.HandleFunc("GET /admin/schemas/{id}", h.get(h.getSchema))
}

// MountPublic registers the public routes: GET /schemas and GET
// /schemas/{id} (also under /admin/schemas, as Kratos serves them on the
// public listener) and, when Options.AdminBaseURL is set, 307 redirects of
// the admin identity and session paths to the admin listener.
func (h *Handler) MountPublic(mux *http.ServeMux) {
	mux.HandleFunc("GET /schemas", h.get(h.listSchemas))
	mux.HandleFunc("GET /schemas/{id}", h.get(h.getSchema))
	mux.HandleFunc("GET /admin/schemas", h.get(h.listSchemas))
	mux.HandleFunc("GET /admin/schemas/{id}", h.get(h.getSchema))
	if h.admin != "" {
		for _, p := range []string{"/identities", "/identities/", "/admin/identities", "/admin/identities/",
			"/admin/sessions", "/admin/sessions/"} {
			mux.HandleFunc(p, h.redirectToAdmin)
		}
	}
}

// redirectToAdmin answers an admin path on the public listener with 307 to
// the same path (with the /admin prefix) and query on the admin listener.
func (h *Handler) redirectToAdmin(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/admin/") {
		p = "/admin" + p
	}
	target := strings.TrimRight(h.admin, "/") + p
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusTemporaryRedirect)
}

// get adds Kratos' no-cache header to GET responses.
func (h *Handler) get(f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, no-cache, no-store, must-revalidate")
		f(w, r)
	}
}

func (h *Handler) limitBody(w http.ResponseWriter, r *http.Request, factor int64) {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody*factor)
}
