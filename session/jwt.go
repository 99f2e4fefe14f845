package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
// ring's key for the header's kid and only that key's algorithm, and the
// verified claims are decoded and checked as jwt.Validate checked them
// (validClaims).
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

// validClaims decodes a payload whose signature jwx verified and makes the
// checks jwt.Validate made with the options VerifyJWT gave it (the
// clock, the skew, exp required and, when o sets them, aud and iss), in
// its order: iat, exp, nbf, exp required, aud, iss. It returns the claims,
// or the first failed check's error (jwt.TokenExpiredError for an expired
// token).
//
// The payload is decoded by encoding/json into a map, once, instead of by
// jwt.Token's JSON decoding (about 140 allocations per token: its
// json.Decoder reads each value separately and builds an error at the end
// of each). The claims are read as jwx read them (see claimTime, and the
// registered string claims must be strings), with one difference, in one
// direction: spellings jwx tolerates and Latchkey never signs are refused
// (dates as strings, null, a claim named twice). TestVerifyJWTMatchesJWX
// holds it to jwx's jwt.Parse.
func (k *Keys) validClaims(payload []byte, o VerifyOptions) (*Claims, error) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if m == nil {
		return nil, errors.New("payload: not a JSON object")
	}
	// jwx read the members in order, each value of a repeated name
	// replacing the last (after checking it); the map keeps only the last.
	if objectMembers(payload) != len(m) {
		return nil, errors.New("payload: a claim is named twice")
	}
	c := &Claims{}
	var hasExp, hasIat, hasNbf, hasIss bool
	for name, v := range m {
		var err error
		switch name {
		case jwt.SubjectKey:
			err = claimString(name, v, &c.Subject)
		case jwt.IssuerKey:
			err, hasIss = claimString(name, v, &c.Issuer), true
		case jwt.JwtIDKey:
			err = claimString(name, v, &c.ID)
		case SessionIDClaim:
			if s, ok := v.(string); ok {
				c.SessionID = s
			} else {
				err = errors.New("session_id is not a string")
			}
		case jwt.AudienceKey:
			c.Audience, err = claimAudience(v)
		case jwt.ExpirationKey:
			c.ExpiresAt, err = claimTime(name, v)
			hasExp = true
		case jwt.IssuedAtKey:
			c.IssuedAt, err = claimTime(name, v)
			hasIat = true
		case jwt.NotBeforeKey:
			c.NotBefore, err = claimTime(name, v)
			hasNbf = true
		default:
			// jwx kept it, but its Get refused to hand out a null.
			if v == nil {
				return nil, fmt.Errorf("claim %s is null", name)
			}
			if c.Extra == nil {
				c.Extra = make(map[string]any, len(m))
			}
			c.Extra[name] = v
		}
		if err != nil {
			return nil, err
		}
	}
	// jwt.Validate's checks, as it made them with jwx's default truncation
	// (none): iat and nbf may be up to the skew ahead of now, exp is
	// expired from the skew after it on.
	now := k.now()
	switch {
	case hasIat && now.Before(c.IssuedAt.Add(-k.skew)):
		return nil, jwt.InvalidIssuedAtError()
	case hasExp && !now.Before(c.ExpiresAt.Add(k.skew)):
		return nil, jwt.TokenExpiredError()
	case hasNbf && now.Before(c.NotBefore.Add(-k.skew)):
		return nil, jwt.TokenNotYetValidError()
	case !hasExp:
		return nil, fmt.Errorf("%w: exp", jwt.MissingRequiredClaimError())
	case o.Audience != "" && !slices.Contains(c.Audience, o.Audience):
		return nil, jwt.InvalidAudienceError()
	case o.Issuer != "" && (!hasIss || c.Issuer != o.Issuer):
		return nil, jwt.InvalidIssuerError()
	}
	return c, nil
}

// claimString reads a registered claim jwx keeps as a string.
func claimString(name string, v any, dst *string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("claim %s: %T is not a string", name, v)
	}
	*dst = s
	return nil
}

// claimAudience reads aud as jwx's StringList does: a string, or an array
// of strings (an empty array is an empty, non-nil list).
func claimAudience(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("claim aud: element %T is not a string", e)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("claim aud: %T is neither a string nor an array", v)
}

// claimTime reads a NumericDate as jwx's types.NumericDate read a JSON
// number (decoded as a float64, its decoder does not use json.Number):
// formatted with nine decimals, refused unless that is digits and a point
// (so negative dates are refused), its whole seconds parsed (the default
// parse precision drops the fraction), in UTC. jwx also reads strings
// (digits, or RFC 3339 dates); Latchkey never signs those and refuses
// them.
func claimTime(name string, v any) (time.Time, error) {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, fmt.Errorf("claim %s: %T is not a number", name, v)
	}
	var buf [64]byte // on the stack: the errors copy it
	b := strconv.AppendFloat(buf[:0], f, 'f', 9, 64)
	for _, d := range b {
		if (d < '0' || d > '9') && d != '.' {
			return time.Time{}, fmt.Errorf("claim %s: %s is not a number of seconds since the epoch", name, string(b))
		}
	}
	if i := bytes.IndexByte(b, '.'); i > 0 {
		b = b[:i]
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("claim %s: %w", name, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// objectMembers returns the number of members of the JSON object b (valid
// JSON, as json.Unmarshal found it): the colons outside strings at depth 1.
func objectMembers(b []byte) int {
	n, depth := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ':' && depth == 1:
			n++
		}
	}
	return n
}
