package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchkey/latchkey/core"
)

// SessionIDClaim is the private claim naming the session row, as Hanko
// names it.
const SessionIDClaim = "session_id"

// registered lists the claims Claims holds in typed fields.
var registered = map[string]bool{
	jwt.SubjectKey: true, jwt.IssuerKey: true, jwt.AudienceKey: true, jwt.IssuedAtKey: true,
	jwt.NotBeforeKey: true, jwt.ExpirationKey: true, jwt.JwtIDKey: true, SessionIDClaim: true,
}

// Claims is the content of a session JWT. Zero fields are left out of a
// signed token.
type Claims struct {
	Subject   string    // sub: the identity id
	SessionID string    // session_id: the session row
	Issuer    string    // iss
	Audience  []string  // aud
	ID        string    // jti
	IssuedAt  time.Time // iat; SignJWT sets it to now when zero
	NotBefore time.Time // nbf
	ExpiresAt time.Time // exp; required
	// Extra holds every other claim (Hanko's email, username, amr …). Its
	// values must encode to JSON; after VerifyJWT they are what
	// encoding/json decodes into an any (numbers are float64).
	Extra map[string]any
}

// VerifyOptions are the checks VerifyJWT makes beyond signature and times.
type VerifyOptions struct {
	Audience string // when set, aud must contain it
	Issuer   string // when set, iss must equal it
}

// SignJWT signs c with the current signing key; the header names the key
// (kid) and its algorithm. It returns a *core.Error with CodeInvalid when
// ExpiresAt is zero or not after IssuedAt, or when Extra redefines a claim
// Claims has a field for, and a wrapped error when signing fails.
func (k *Keys) SignJWT(ctx context.Context, c Claims) (string, error) {
	if c.IssuedAt.IsZero() {
		c.IssuedAt = k.now()
	}
	if c.ExpiresAt.IsZero() || !c.ExpiresAt.After(c.IssuedAt) {
		return "", core.Errorf(core.CodeInvalid, "A JWT needs an expiry after its issue time.")
	}
	t := jwt.New()
	set := func(name string, v any) error {
		if err := t.Set(name, v); err != nil {
			return fmt.Errorf("sign JWT: set %s: %w", name, err)
		}
		return nil
	}
	for name := range c.Extra {
		if registered[name] {
			return "", core.Errorf(core.CodeInvalid, "The claim %q must be set through its field.", name)
		}
	}
	for name, v := range c.Extra {
		if err := set(name, v); err != nil {
			return "", err
		}
	}
	fields := []struct {
		name string
		v    any
		ok   bool
	}{
		{jwt.SubjectKey, c.Subject, c.Subject != ""},
		{SessionIDClaim, c.SessionID, c.SessionID != ""},
		{jwt.IssuerKey, c.Issuer, c.Issuer != ""},
		{jwt.AudienceKey, c.Audience, len(c.Audience) > 0},
		{jwt.JwtIDKey, c.ID, c.ID != ""},
		{jwt.IssuedAtKey, c.IssuedAt, true},
		{jwt.NotBeforeKey, c.NotBefore, !c.NotBefore.IsZero()},
		{jwt.ExpirationKey, c.ExpiresAt, true},
	}
	for _, f := range fields {
		if f.ok {
			if err := set(f.name, f.v); err != nil {
				return "", err
			}
		}
	}
	r := k.current(ctx)
	b, err := jwt.Sign(t, jwt.WithKey(r.signerAlg, r.signer))
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	if b, err = lowS(b, r.signerAlg.String()); err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	return string(b), nil
}

// lookup returns the verification key kid, reloading the ring first when
// kid is unknown (it may have been rotated in on another replica), at most
// once per unknownKidInterval.
func (k *Keys) lookup(ctx context.Context, kid string) (*ringKey, error) {
	r := k.current(ctx)
	if rk := r.keys[kid]; rk != nil {
		return rk, nil
	}
	r = k.refresh(ctx, unknownKidInterval)
	if rk := r.keys[kid]; rk != nil {
		return rk, nil
	}
	return nil, fmt.Errorf("unknown kid %q", kid)
}

// VerifyJWT checks token's signature against the ring (only ES256 and
// RS256, only with the key its kid names), its exp (required), nbf and iat
// with the configured skew, and the audience and issuer o asks for, and
// returns its claims. It returns a *core.Error with CodeUnauthorized whose
// cause wraps ErrInvalidJWT, and also ErrExpired when the token has
// expired.
//
// It does what jwt.Parse with a key provider, WithValidate,
// WithAcceptableSkew, WithRequiredClaim(exp), WithAudience and WithIssuer
// did, without jws's message parsing: the compact form is split and
// decoded once (parseCompact, which also enforces the one canonical
// encoding), the signature is checked by jwx's jwsbb.Verify with the
// ring's key for the header's kid and only that key's algorithm, and jwx
// decodes and validates the claims (validClaims).
//
// A token it accepted is remembered (see KeysOptions.VerifyCacheSize):
// the same token with the same options is then accepted without a new
// signature check until its exp or the cache TTL, for as long as the key
// that verified it stays in the ring. The caller's checks of the session
// row are not affected.
func (k *Keys) VerifyJWT(ctx context.Context, token string, o VerifyOptions) (*Claims, error) {
	if token == "" || len(token) > maxJWTLen {
		return nil, invalidJWT(errors.New("empty or oversized token"))
	}
	// A cache hit is this exact token, which passed parseCompact and the
	// signature check before: the canonical-form check runs on misses only.
	var cacheKey [32]byte
	if k.verified != nil {
		cacheKey = jwtCacheKey(token, o)
		if c, ok := k.verified.get(cacheKey, k.now(), k.current(ctx)); ok {
			return c, nil
		}
	}
	jws, err := parseCompact(token)
	if err != nil {
		return nil, invalidJWT(err)
	}
	kid, rk, err := k.verifySignature(ctx, &jws)
	if err != nil {
		return nil, invalidJWT(err)
	}
	c, err := k.validClaims(jws.payload, o)
	if err != nil {
		return nil, invalidJWT(err)
	}
	if k.verified != nil {
		k.verified.put(cacheKey, c, kid, rk, k.now())
	}
	return c, nil
}

// verifySignature checks the signature of t with the ring's key for its
// kid. The header's alg must be the algorithm stored with that key (ES256
// or RS256): none, HMAC or any other is refused before any signature
// check. It returns the kid and the key that verified.
func (k *Keys) verifySignature(ctx context.Context, t *compactJWT) (string, *ringKey, error) {
	h := t.header
	if h.Kid == "" {
		return "", nil, errors.New("no kid in the JWT header")
	}
	if h.Crit || h.B64 {
		return "", nil, errors.New("the JWT header has crit or b64, which Latchkey does not sign")
	}
	rk, err := k.lookup(ctx, h.Kid)
	if err != nil {
		return "", nil, err
	}
	if h.Alg != rk.alg.String() {
		return "", nil, fmt.Errorf("alg %q not allowed for key %q", h.Alg, h.Kid)
	}
	if err := jwsbb.Verify(rk.public, h.Alg, t.signed, t.signature); err != nil {
		return "", nil, fmt.Errorf("signature: %w", err)
	}
	return h.Kid, rk, nil
}

func invalidJWT(err error) error {
	cause := fmt.Errorf("%w: %w", ErrInvalidJWT, err)
	msg := "The token is invalid."
	if errors.Is(err, jwt.TokenExpiredError()) {
		cause = fmt.Errorf("%w: %w: %w", ErrInvalidJWT, ErrExpired, err)
		msg = "The token has expired."
	}
	return unauthorized(msg, cause)
}

// validClaims decodes a verified JWT payload with jwx (jwt.Token's JSON
// decoding and its claim types) and validates it with jwt.Validate: the
// clock, the skew, exp required and, when o sets them, aud and iss. It
// returns the claims, or the validation's error (jwt.TokenExpiredError for
// an expired token).
func (k *Keys) validClaims(payload []byte, o VerifyOptions) (*Claims, error) {
	t := jwt.New()
	if err := json.Unmarshal(payload, t); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if err := jwt.Validate(t, k.validateOptions(o)...); err != nil {
		return nil, err
	}
	return claimsOf(t)
}

// maxValidateOpts bounds the VerifyOptions whose jwt.Validate options
// Keys keeps; the callers pass a few fixed ones (each face's issuer and
// audience).
const maxValidateOpts = 8

// validateOptions returns jwt.Validate's options for o: the clock, the
// skew, exp required and, when o sets them, aud and iss. They depend only
// on o and the Keys' settings, so they are built once per o (about 15
// allocations a first-seen check no longer makes) and shared: jwx's
// options are immutable values.
func (k *Keys) validateOptions(o VerifyOptions) []jwt.ValidateOption {
	if v, ok := k.validateOpts.Load(o); ok {
		return v.([]jwt.ValidateOption)
	}
	opts := []jwt.ValidateOption{
		jwt.WithClock(jwt.ClockFunc(k.now)),
		jwt.WithAcceptableSkew(k.skew),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	}
	if o.Audience != "" {
		opts = append(opts, jwt.WithAudience(o.Audience))
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	opts = slices.Clip(opts)
	if k.validateN.Load() < maxValidateOpts {
		if _, loaded := k.validateOpts.LoadOrStore(o, opts); !loaded {
			k.validateN.Add(1)
		}
	}
	return opts
}

// claimsOf copies a verified token into Claims.
func claimsOf(t jwt.Token) (*Claims, error) {
	c := &Claims{}
	c.Subject, _ = t.Subject()
	c.Issuer, _ = t.Issuer()
	c.Audience, _ = t.Audience()
	c.ID, _ = t.JwtID()
	c.IssuedAt, _ = t.IssuedAt()
	c.NotBefore, _ = t.NotBefore()
	c.ExpiresAt, _ = t.Expiration()
	for _, name := range t.Keys() {
		if registered[name] && name != SessionIDClaim {
			continue
		}
		var v any
		if err := t.Get(name, &v); err != nil {
			return nil, fmt.Errorf("claim %s: %w", name, err)
		}
		if name == SessionIDClaim {
			s, ok := v.(string)
			if !ok {
				return nil, errors.New("session_id is not a string")
			}
			c.SessionID = s
			continue
		}
		if c.Extra == nil {
			c.Extra = make(map[string]any)
		}
		c.Extra[name] = v
	}
	return c, nil
}
