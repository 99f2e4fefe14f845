package hanko

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
)

// Retention says how long the browser keeps the session cookie.
type Retention string

// The cookie retentions Hanko knows (hanko.session.cookie.retention; with
// "prompt" the flow asks and passes one of these two).
const (
	RetentionPersistent Retention = "persistent" // Max-Age of the session lifespan
	RetentionSession    Retention = "session"    // a browser-session cookie
)

// The amr values Hanko puts in session JWTs (the spec's JWTClaims.amr).
const (
	AMRPassword    = "pwd"
	AMRPasscode    = "otp"
	AMRPasskey     = "passkey"
	AMRTOTP        = "totp"
	AMRSecurityKey = "security_key"
	AMRThirdParty  = "ext:" // followed by the provider id
)

// authMethod maps a Hanko amr value to the session row's method, named as
// the Kratos face names credential types so both faces read one row alike.
func authMethod(amr string, at time.Time) core.AuthMethod {
	m := core.AuthMethod{AAL: core.AAL1, CompletedAt: at}
	switch {
	case amr == AMRPassword:
		m.Method = string(core.CredentialPassword)
	case amr == AMRPasscode:
		m.Method = string(core.CredentialCode)
	case amr == AMRPasskey:
		m.Method = string(core.CredentialPasskey)
	case amr == AMRTOTP:
		m.Method, m.AAL = string(core.CredentialTOTP), core.AAL2
	case amr == AMRSecurityKey:
		m.Method, m.AAL = string(core.CredentialWebAuthn), core.AAL2
	case strings.HasPrefix(amr, AMRThirdParty):
		m.Method, m.Provider = string(core.CredentialOIDC), strings.TrimPrefix(amr, AMRThirdParty)
	default:
		m.Method = amr
	}
	return m
}

// amrOf maps a session row's methods back to Hanko's amr values.
func amrOf(s *core.Session) []string {
	out := make([]string, 0, len(s.Methods))
	for _, m := range s.Methods {
		var v string
		switch core.CredentialType(m.Method) {
		case core.CredentialPassword:
			v = AMRPassword
		case core.CredentialCode:
			v = AMRPasscode
		case core.CredentialPasskey:
			v = AMRPasskey
		case core.CredentialTOTP:
			v = AMRTOTP
		case core.CredentialWebAuthn:
			v = AMRSecurityKey
		case core.CredentialOIDC:
			v = AMRThirdParty + m.Provider
		default:
			v = m.Method
		}
		out = append(out, v)
	}
	return out
}

// ClaimsJSON is a session JWT's content as Hanko shows it in
// /sessions/validate and the Flow API's success payload (dto.Claims, with
// amr and the template's custom claims as the flow spec lists them).
type ClaimsJSON struct {
	Subject    string      `json:"subject"`
	IssuedAt   *time.Time  `json:"issued_at,omitempty"`
	Expiration time.Time   `json:"expiration"`
	Audience   []string    `json:"audience,omitempty"`
	Issuer     string      `json:"issuer,omitempty"`
	Email      *EmailClaim `json:"email,omitempty"`
	Username   string      `json:"username,omitempty"`
	SessionID  string      `json:"session_id"`
	AMR        []string    `json:"amr,omitempty"`
	// Custom holds the jwt_template's claims, rendered at the top level.
	Custom map[string]any `json:"-"`
}

// claimsFields is ClaimsJSON without its MarshalJSON: the fixed claims.
type claimsFields ClaimsJSON

// MarshalJSON writes the fixed claims and then the custom ones.
func (c ClaimsJSON) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(claimsFields(c))
	if err != nil || len(c.Custom) == 0 {
		return b, err
	}
	m := map[string]any{}
	for k, v := range c.Custom {
		m[k] = v
	}
	var fixed map[string]json.RawMessage
	if err := json.Unmarshal(b, &fixed); err != nil {
		return nil, err
	}
	for k, v := range fixed {
		m[k] = v
	}
	return json.Marshal(m)
}

// claimsJSON converts verified JWT claims to Hanko's shape.
func claimsJSON(c *session.Claims) ClaimsJSON {
	out := ClaimsJSON{Subject: c.Subject, Expiration: c.ExpiresAt.UTC(), Audience: c.Audience, Issuer: c.Issuer,
		SessionID: c.SessionID}
	if !c.IssuedAt.IsZero() {
		t := c.IssuedAt.UTC()
		out.IssuedAt = &t
	}
	for k, v := range c.Extra {
		switch k {
		case "email":
			e, ok := emailClaimOf(v)
			if !ok {
				if b, err := json.Marshal(v); err == nil {
					ok = json.Unmarshal(b, &e) == nil
				}
			}
			if ok && e.Address != "" {
				out.Email = &e
			}
		case "username":
			out.Username, _ = v.(string)
		case "amr":
			if list, ok := v.([]any); ok {
				for _, a := range list {
					if s, ok := a.(string); ok {
						out.AMR = append(out.AMR, s)
					}
				}
			}
		default:
			if out.Custom == nil {
				out.Custom = map[string]any{}
			}
			out.Custom[k] = v
		}
	}
	return out
}

// emailClaimOf reads the email claim as signSession writes it (a JSON
// object of address, is_primary and is_verified, each of its type) without
// encoding it again; ok is false for anything else, which claimsJSON then
// reads through encoding/json as before.
func emailClaimOf(v any) (e EmailClaim, ok bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return e, false
	}
	for k, x := range m {
		switch k {
		case "address":
			e.Address, ok = x.(string)
		case "is_primary":
			e.IsPrimary, ok = x.(bool)
		case "is_verified":
			e.IsVerified, ok = x.(bool)
		default:
			ok = false
		}
		if !ok {
			return EmailClaim{}, false
		}
	}
	return e, true
}

// Issued is a session the face has just issued.
type Issued struct {
	Session   *core.Session
	Token     string     // the signed JWT
	Claims    ClaimsJSON // for the success payload
	Retention Retention
}

// issueSession creates a session row for identity i authenticated by the amr
// methods (in order) through tx, signs its JWT and queues the
// session.create webhook event through tx; the caller puts the token on the
// response with writeSession. It returns a *core.Error with CodeInvalid
// when amr is empty or i is not active, or a wrapped error from the session
// manager or the key ring. tx is the step's transaction (the session
// commits with the step that authenticated i) or the store.
func (h *Handler) issueSession(ctx context.Context, tx store.Tx, r *http.Request, i *core.Identity, amr []string, retention Retention) (*Issued, error) {
	if len(amr) == 0 {
		return nil, core.Errorf(core.CodeInvalid, "A session needs at least one authentication method.")
	}
	if i.State != core.IdentityActive {
		return nil, core.Errorf(core.CodeUnauthorized, "The account is disabled.")
	}
	now := h.now()
	dev := core.Device{IPAddress: api.ClientIP(r), UserAgent: r.UserAgent()}
	methods := make([]core.AuthMethod, len(amr))
	for k, a := range amr {
		methods[k] = authMethod(a, now)
	}
	s, _, err := h.sessions.IssueIn(ctx, tx, i.ID, methods, dev, h.cfg.Session.Lifespan)
	if err != nil {
		return nil, fmt.Errorf("issue session: %w", err)
	}
	token, claims, err := h.signSession(ctx, i, s, amr)
	if err != nil {
		return nil, err
	}
	if retention != RetentionSession {
		retention = RetentionPersistent
	}
	if err := h.emit(ctx, tx, EventSessionCreate, sessionEventData(s)); err != nil {
		return nil, fmt.Errorf("queue session.create: %w", err)
	}
	return &Issued{Session: s, Token: token, Claims: claims, Retention: retention}, nil
}

// signSession signs the JWT of session s of identity i.
func (h *Handler) signSession(ctx context.Context, i *core.Identity, s *core.Session, amr []string) (string, ClaimsJSON, error) {
	c := session.Claims{Subject: i.ID, SessionID: s.ID, Issuer: h.jwt.Issuer, Audience: h.jwt.Audience,
		IssuedAt: h.now(), ExpiresAt: s.ExpiresAt, Extra: map[string]any{"amr": amr}}
	if e := emailClaim(i); e != nil {
		c.Extra["email"] = e
	}
	if u := traitsOf(i).Username; u != "" {
		c.Extra["username"] = u
	}
	custom, err := h.claims.render(i)
	if err != nil {
		return "", ClaimsJSON{}, fmt.Errorf("render jwt_template claims: %w", err)
	}
	for k, v := range custom {
		c.Extra[k] = v
	}
	token, err := h.keys.SignJWT(ctx, c)
	if err != nil {
		return "", ClaimsJSON{}, fmt.Errorf("sign session JWT: %w", err)
	}
	iat := c.IssuedAt.UTC().Truncate(time.Second)
	out := ClaimsJSON{Subject: i.ID, IssuedAt: &iat, Expiration: s.ExpiresAt.UTC().Truncate(time.Second),
		Audience: c.Audience, Issuer: c.Issuer, Email: emailClaim(i), Username: traitsOf(i).Username,
		SessionID: s.ID, AMR: amr, Custom: custom}
	return token, out, nil
}

// writeSession puts the token on the response as the cookie or header.
func (h *Handler) writeSession(w http.ResponseWriter, token string, expires time.Time, retention Retention) {
	// Rounded to the second: a session issued just now reports its whole
	// lifespan, as Hanko's X-Session-Lifetime does.
	lifetime := 0
	if d := expires.Sub(h.now()); d > 0 {
		lifetime = int(d.Round(time.Second) / time.Second)
	}
	w.Header().Set("X-Session-Lifetime", strconv.Itoa(lifetime))
	w.Header().Set("X-Session-Retention", string(retention))
	if h.cfg.Session.EnableAuthTokenHeader {
		w.Header().Set("X-Auth-Token", token)
		return
	}
	ck := h.cookie(token)
	if retention == RetentionPersistent {
		ck.MaxAge = lifetime
	}
	http.SetCookie(w, ck)
}

// cookie returns the hanko cookie carrying value, with the configured
// attributes and no lifetime.
func (h *Handler) cookie(value string) *http.Cookie {
	c := h.cfg.Session.Cookie
	ck := &http.Cookie{Name: c.Name, Value: value, Path: "/", Domain: c.Domain, HttpOnly: c.HTTPOnly, Secure: c.Secure}
	switch strings.ToLower(c.SameSite) {
	case "lax":
		ck.SameSite = http.SameSiteLaxMode
	case "none":
		ck.SameSite = http.SameSiteNoneMode
	default:
		ck.SameSite = http.SameSiteStrictMode
	}
	return ck
}

// clearSessionCookie expires the hanko cookie on the client.
func (h *Handler) clearSessionCookie(w http.ResponseWriter) {
	ck := h.cookie("")
	ck.MaxAge = -1
	http.SetCookie(w, ck)
}

// Authn is the verified session a request carries.
type Authn struct {
	Session *core.Session
	Claims  *session.Claims
	Token   string
	// memo is the session cache's memo of the check (the zero Memo when
	// the cache kept none).
	memo session.Memo
	// webauthn is the identity's WebAuthn credentials when they were read
	// with the session (verifyTokenIdentity without the cache's answer),
	// else nil: see webauthnOf.
	webauthn []core.WebAuthnCredential
}

// webauthnOf returns the WebAuthn credentials of identity id, whose
// session a is: those read with the session, or else from the store.
func (h *Handler) webauthnOf(ctx context.Context, a *Authn, id string) ([]core.WebAuthnCredential, error) {
	if a.webauthn != nil {
		return a.webauthn, nil
	}
	return webauthnCredentials(ctx, h.store, id)
}

// errNoToken means the request carries no session token at all.
var errNoToken = errors.New("hanko: no session token")

// tokenFrom returns the session JWT of r: "Authorization: Bearer <jwt>" first
// (the SDK sends it when the token is readable by JavaScript), else the
// hanko cookie.
func (h *Handler) tokenFrom(r *http.Request) string {
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		if t := strings.TrimSpace(a[7:]); t != "" {
			return t
		}
	}
	if c, err := r.Cookie(h.cfg.Session.Cookie.Name); err == nil && c.Value != "" {
		return c.Value
	}
	return ""
}

// sessionFromRequest verifies the session r carries (see tokenFrom). It
// returns a *core.Error with CodeUnauthorized when there is no token (cause
// errNoToken), the JWT does not verify, or its session row is revoked,
// expired, gone or belongs to someone else; or a wrapped store error.
func (h *Handler) sessionFromRequest(r *http.Request) (*Authn, error) {
	token := h.tokenFrom(r)
	if token == "" {
		return nil, &core.Error{Code: core.CodeUnauthorized, Message: "Unauthorized", Cause: errNoToken}
	}
	return h.verifyToken(r.Context(), token)
}

// verifyToken checks a session JWT and its session row, as
// sessionFromRequest does.
func (h *Handler) verifyToken(ctx context.Context, token string) (*Authn, error) {
	a, _, err := h.verifyTokenLoad(ctx, token, false)
	return a, err
}

// verifyTokenIdentity is verifyToken that also returns the session's
// identity with its addresses and credentials and, when the session cache
// did not answer, the identity's WebAuthn credentials in Authn (all in one
// statement).
func (h *Handler) verifyTokenIdentity(ctx context.Context, token string) (*Authn, *core.Identity, error) {
	return h.verifyTokenLoad(ctx, token, true)
}

func (h *Handler) verifyTokenLoad(ctx context.Context, token string, withIdentity bool) (*Authn, *core.Identity, error) {
	o := session.VerifyOptions{Issuer: h.jwt.Issuer}
	if len(h.jwt.Audience) > 0 {
		o.Audience = h.jwt.Audience[0]
	}
	c, err := h.keys.VerifyJWT(ctx, token, o)
	if err != nil {
		return nil, nil, &core.Error{Code: core.CodeUnauthorized, Message: "Unauthorized", Cause: err}
	}
	if c.SessionID == "" {
		return nil, nil, &core.Error{Code: core.CodeUnauthorized, Message: "Unauthorized", Cause: session.ErrInvalidJWT}
	}
	var (
		s *core.Session
		i *core.Identity
	)
	var (
		memo     session.Memo
		webauthn []core.WebAuthnCredential
	)
	if withIdentity {
		s, i, webauthn, memo, err = h.sessions.SessionProfileMemo(ctx, c.SessionID)
	} else {
		s, memo, err = h.sessions.SessionMemo(ctx, c.SessionID)
	}
	if err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			return nil, nil, &core.Error{Code: core.CodeUnauthorized, Message: "Unauthorized", Cause: err}
		}
		return nil, nil, fmt.Errorf("load session: %w", err)
	}
	if err := h.sessions.Check(s); err != nil {
		return nil, nil, &core.Error{Code: core.CodeUnauthorized, Message: "Unauthorized", Cause: err}
	}
	if s.IdentityID != c.Subject {
		return nil, nil, &core.Error{Code: core.CodeUnauthorized, Message: "Unauthorized", Cause: session.ErrInvalidJWT}
	}
	return &Authn{Session: s, Claims: c, Token: token, memo: memo, webauthn: webauthn}, i, nil
}

// claimTemplate renders hanko.session.jwt_template.claims for a user.
type claimTemplate struct {
	claims map[string]any // strings replaced by *template.Template
}

// parseClaimTemplate compiles the string values of claims (at any depth) as
// Go templates.
func parseClaimTemplate(claims map[string]any) (*claimTemplate, error) {
	var compile func(v any, path string) (any, error)
	compile = func(v any, path string) (any, error) {
		switch x := v.(type) {
		case string:
			if !strings.Contains(x, "{{") {
				return x, nil
			}
			t, err := template.New(path).Option("missingkey=zero").Parse(x)
			if err != nil {
				return nil, fmt.Errorf("hanko: hanko.session.jwt_template.claims.%s: %w", path, err)
			}
			return t, nil
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				c, err := compile(e, path+"."+k)
				if err != nil {
					return nil, err
				}
				out[k] = c
			}
			return out, nil
		case []any:
			out := make([]any, len(x))
			for n, e := range x {
				c, err := compile(e, fmt.Sprintf("%s[%d]", path, n))
				if err != nil {
					return nil, err
				}
				out[n] = c
			}
			return out, nil
		default:
			return v, nil
		}
	}
	ct := &claimTemplate{claims: map[string]any{}}
	for k, v := range claims {
		c, err := compile(v, k)
		if err != nil {
			return nil, err
		}
		ct.claims[k] = c
	}
	return ct, nil
}

// templateUser is what jwt_template claims see as .User.
type templateUser struct {
	UserID   string
	Email    *EmailClaim
	Username string
	Metadata struct{ Public, Unsafe map[string]any }
}

// render returns the custom claims for i, or nil when none are configured.
func (ct *claimTemplate) render(i *core.Identity) (map[string]any, error) {
	if ct == nil || len(ct.claims) == 0 {
		return nil, nil
	}
	u := templateUser{UserID: i.ID, Email: emailClaim(i), Username: traitsOf(i).Username}
	if u.Email == nil {
		u.Email = &EmailClaim{}
	}
	_ = json.Unmarshal(nonNullOr(i.MetadataPublic), &u.Metadata.Public)
	_ = json.Unmarshal(nonNullOr(i.MetadataUnsafe), &u.Metadata.Unsafe)
	data := struct{ User templateUser }{u}
	var exec func(v any) (any, error)
	exec = func(v any) (any, error) {
		switch x := v.(type) {
		case *template.Template:
			var b strings.Builder
			if err := x.Execute(&b, data); err != nil {
				return nil, err
			}
			return b.String(), nil
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				r, err := exec(e)
				if err != nil {
					return nil, err
				}
				out[k] = r
			}
			return out, nil
		case []any:
			out := make([]any, len(x))
			for n, e := range x {
				r, err := exec(e)
				if err != nil {
					return nil, err
				}
				out[n] = r
			}
			return out, nil
		default:
			return v, nil
		}
	}
	out := make(map[string]any, len(ct.claims))
	for k, v := range ct.claims {
		r, err := exec(v)
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", k, err)
		}
		out[k] = r
	}
	return out, nil
}

func nonNullOr(raw json.RawMessage) []byte {
	if nonNull(raw) == nil {
		return []byte("{}")
	}
	return raw
}
