package session

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchkey/latchkey/core"
)

// maxKeySetSize bounds a tokenizer key set read from a file or base64 URL.
const maxKeySetSize = 1 << 20

// TokenTemplate is one whoami tokenize_as template (Kratos'
// session.whoami.tokenizer.templates.<name>).
type TokenTemplate struct {
	TTL           time.Duration // exp = now + TTL; must be positive
	SubjectSource string        // "id" (default) or "external_id"
	// JWKSURL names the key set holding the template's private signing
	// key: file:///path or base64://<JWKS>. It is read once, by
	// NewTokenizer.
	JWKSURL string
}

// Tokenizer turns sessions into JWTs signed with each template's own key
// (Kratos' session/tokenizer.go), never with the session signing keys: a
// service that trusts a template's public key set accepts only tokens made
// for it.
type Tokenizer struct {
	issuer    string
	now       func() time.Time
	templates map[string]tokenTemplate
}

type tokenTemplate struct {
	TokenTemplate
	key jwk.Key
	alg jwa.SignatureAlgorithm
}

// TemplateKeyError says which template's key set could not be used; Key is
// the configuration key to name in the message.
type TemplateKeyError struct {
	Template string
	Err      error
}

func (e *TemplateKeyError) Error() string {
	return fmt.Sprintf("session.whoami.tokenizer.templates.%s.jwks_url: %v", e.Template, e.Err)
}

func (e *TemplateKeyError) Unwrap() error { return e.Err }

// NewTokenizer reads every template's key set and picks its signing key:
// the first private key whose "alg" is an asymmetric JWS algorithm. issuer
// is the iss claim (the public base URL); now defaults to time.Now. It
// returns a *TemplateKeyError naming the template when a key set cannot be
// read or parsed, or holds no such key.
func NewTokenizer(issuer string, templates map[string]TokenTemplate, now func() time.Time) (*Tokenizer, error) {
	if now == nil {
		now = time.Now
	}
	t := &Tokenizer{issuer: issuer, now: now, templates: make(map[string]tokenTemplate, len(templates))}
	for name, tpl := range templates {
		if tpl.TTL <= 0 {
			return nil, fmt.Errorf("session.whoami.tokenizer.templates.%s.ttl: %s must be positive", name, tpl.TTL)
		}
		raw, err := readKeySet(tpl.JWKSURL)
		if err != nil {
			return nil, &TemplateKeyError{Template: name, Err: err}
		}
		key, alg, err := signingKey(raw)
		if err != nil {
			return nil, &TemplateKeyError{Template: name, Err: err}
		}
		t.templates[name] = tokenTemplate{TokenTemplate: tpl, key: key, alg: alg}
	}
	return t, nil
}

// readKeySet reads a key set from a file:// or base64:// URL.
func readKeySet(raw string) ([]byte, error) {
	if raw == "" {
		return nil, errors.New("is required: the key set (JWKS) holding the template's private signing key")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	switch {
	case !ok:
		return nil, fmt.Errorf("%q is not a file:// or base64:// URL", raw)
	case scheme == "base64":
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(rest); err == nil {
				return b, nil
			}
		}
		return nil, errors.New("the base64:// URL does not hold base64")
	case scheme == "file":
		u, err := url.Parse(raw)
		if err != nil || u.Path == "" || (u.Host != "" && u.Host != "localhost") {
			return nil, fmt.Errorf("%q is not a file:///absolute/path URL", raw)
		}
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, fmt.Errorf("read the key set: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxKeySetSize+1))
		if err != nil {
			return nil, fmt.Errorf("read the key set: %w", err)
		}
		if len(b) > maxKeySetSize {
			return nil, fmt.Errorf("the key set %s is larger than %d bytes", u.Path, maxKeySetSize)
		}
		return b, nil
	case scheme == "http" || scheme == "https":
		return nil, fmt.Errorf("%q: http(s):// key sets are not supported yet; use file:// or base64://", raw)
	default:
		return nil, fmt.Errorf("%q is not a file:// or base64:// URL", raw)
	}
}

// signingKey returns the first private key of the set (or single key) raw
// whose alg is an asymmetric signature algorithm that fits the key.
func signingKey(raw []byte) (jwk.Key, jwa.SignatureAlgorithm, error) {
	set, err := jwk.Parse(raw)
	if err != nil {
		return nil, jwa.SignatureAlgorithm{}, fmt.Errorf("the key set is not a JWKS or JWK: %w", err)
	}
	var why []string
	for i := 0; i < set.Len(); i++ {
		key, _ := set.Key(i)
		kid, _ := key.KeyID()
		name := fmt.Sprintf("key %d (kid %q)", i, kid)
		if _, ok := key.(jwk.SymmetricKey); ok {
			why = append(why, name+" is symmetric")
			continue
		}
		if isPrivate, err := jwk.IsPrivateKey(key); err != nil || !isPrivate {
			why = append(why, name+" is not a private key")
			continue
		}
		a, ok := key.Algorithm()
		if !ok {
			why = append(why, name+" has no \"alg\"")
			continue
		}
		alg, ok := jwa.LookupSignatureAlgorithm(a.String())
		if !ok || !asymmetric(alg) {
			why = append(why, fmt.Sprintf("%s has alg %q, not an asymmetric JWS algorithm", name, a.String()))
			continue
		}
		// Sign something to prove alg fits the key (an RSA key labelled
		// ES256 is refused here, not at the first request).
		probe := jwt.New()
		if _, err := jwt.Sign(probe, jwt.WithKey(alg, key)); err != nil {
			why = append(why, fmt.Sprintf("%s cannot sign with %s: %v", name, alg, err))
			continue
		}
		return key, alg, nil
	}
	if len(why) == 0 {
		return nil, jwa.SignatureAlgorithm{}, errors.New("the key set holds no keys")
	}
	return nil, jwa.SignatureAlgorithm{}, fmt.Errorf("the key set holds no private signing key with an \"alg\" (%s)", strings.Join(why, "; "))
}

func asymmetric(alg jwa.SignatureAlgorithm) bool {
	switch alg {
	case jwa.ES256(), jwa.ES384(), jwa.ES512(), jwa.RS256(), jwa.RS384(), jwa.RS512(),
		jwa.PS256(), jwa.PS384(), jwa.PS512(), jwa.EdDSA():
		return true
	}
	return false
}

// Has reports whether a template of that name exists.
func (t *Tokenizer) Has(name string) bool {
	_, ok := t.templates[name]
	return ok
}

// Tokenize signs the session sessionID of identity identityID (whose
// external id is externalID) as template name says, with Kratos' claims:
// jti (a new UUID), iss, iat, nbf, exp (now + ttl), sid (the session id)
// and sub (the identity id, or its external id with subject_source
// external_id). The header carries the key's kid and alg. It returns a
// *core.Error with CodeInvalid for an unknown template or a missing
// external id, and a wrapped error when signing fails.
func (t *Tokenizer) Tokenize(name, sessionID, identityID, externalID string) (string, error) {
	tpl, ok := t.templates[name]
	if !ok {
		return "", core.Errorf(core.CodeInvalid, "Unable to find tokenizer template %q.", name)
	}
	sub := identityID
	if tpl.SubjectSource == "external_id" {
		if externalID == "" {
			return "", core.Errorf(core.CodeInvalid, "The session's identity does not have an external ID set, but it is required for the subject claim.")
		}
		sub = externalID
	}
	now := t.now().Truncate(time.Second)
	tok := jwt.New()
	for _, c := range []struct {
		name string
		v    any
	}{
		{jwt.JwtIDKey, uuid.NewString()}, {jwt.IssuerKey, t.issuer}, {jwt.IssuedAtKey, now}, {jwt.NotBeforeKey, now},
		{jwt.ExpirationKey, now.Add(tpl.TTL)}, {"sid", sessionID}, {jwt.SubjectKey, sub},
	} {
		if err := tok.Set(c.name, c.v); err != nil {
			return "", fmt.Errorf("tokenize: set %s: %w", c.name, err)
		}
	}
	b, err := jwt.Sign(tok, jwt.WithKey(tpl.alg, tpl.key))
	if err == nil {
		b, err = lowS(b, tpl.alg.String())
	}
	if err != nil {
		return "", fmt.Errorf("tokenize: sign: %w", err)
	}
	return string(b), nil
}
