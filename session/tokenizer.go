package session

import (
	"context"
	"encoding/base64"
	"encoding/json"
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
	// NewTokenizer, unless KeySet holds it already (the caller fetched an
	// https:// key set).
	JWKSURL string
	KeySet  []byte
	// ClaimsMapper is the Jsonnet claims mapper's code (Kratos'
	// claims_mapper_url, read by the caller); empty signs the default
	// claims. MapperID names it in errors.
	ClaimsMapper, MapperID string
}

// Evaluator runs a Jsonnet program with external variables
// (jsonnet.Evaluator).
type Evaluator interface {
	Evaluate(ctx context.Context, name, code string, vars map[string]json.RawMessage) (json.RawMessage, error)
}

// Tokenizer turns sessions into JWTs signed with each template's own key
// (Kratos' session/tokenizer.go), never with the session signing keys: a
// service that trusts a template's public key set accepts only tokens made
// for it.
type Tokenizer struct {
	issuer    string
	now       func() time.Time
	templates map[string]tokenTemplate
	mapper    Evaluator
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
// is the iss claim (the public base URL); now defaults to time.Now; mapper
// runs the templates' claims mappers and may be nil when none has one. It
// returns a *TemplateKeyError naming the template when a key set cannot be
// read or parsed, or holds no such key.
func NewTokenizer(issuer string, templates map[string]TokenTemplate, now func() time.Time, mapper Evaluator) (*Tokenizer, error) {
	if now == nil {
		now = time.Now
	}
	t := &Tokenizer{issuer: issuer, now: now, templates: make(map[string]tokenTemplate, len(templates)), mapper: mapper}
	for name, tpl := range templates {
		if tpl.TTL <= 0 {
			return nil, fmt.Errorf("session.whoami.tokenizer.templates.%s.ttl: %s must be positive", name, tpl.TTL)
		}
		if tpl.ClaimsMapper != "" && mapper == nil {
			return nil, fmt.Errorf("session.whoami.tokenizer.templates.%s.claims_mapper_url: no Jsonnet evaluator to run it", name)
		}
		raw := tpl.KeySet
		var err error
		if raw == nil {
			raw, err = readKeySet(tpl.JWKSURL)
		}
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
		return nil, fmt.Errorf("%q: an http(s):// key set must be fetched by the caller (TokenTemplate.KeySet)", raw)
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

// TokenSession is what Tokenize needs of a session: its id, its identity's
// id and external id, and the session as JSON (whoami's answer), which a
// claims mapper reads as std.extVar('session').
type TokenSession struct {
	ID, IdentityID, ExternalID string
	JSON                       json.RawMessage
}

// Tokenize signs the session as template name says, with Kratos' claims:
// jti (a new UUID), iss, iat, nbf, exp (now + ttl), sid (the session id)
// and sub (the identity id, or its external id with subject_source
// external_id). A template with a claims mapper runs it with
// std.extVar('session') (s.JSON) and std.extVar('claims') (those claims);
// the object under "claims" of its output is merged over them, and sub is
// set again afterwards, as in Kratos. The header carries the key's kid and
// alg. It returns a *core.Error with CodeInvalid for an unknown template, a
// missing external id or a mapper that fails or returns no claims object,
// and a wrapped error when signing fails.
func (t *Tokenizer) Tokenize(ctx context.Context, name string, s TokenSession) (string, error) {
	tpl, ok := t.templates[name]
	if !ok {
		return "", core.Errorf(core.CodeInvalid, "Unable to find tokenizer template %q.", name)
	}
	sub := s.IdentityID
	if tpl.SubjectSource == "external_id" {
		if s.ExternalID == "" {
			return "", core.Errorf(core.CodeInvalid, "The session's identity does not have an external ID set, but it is required for the subject claim.")
		}
		sub = s.ExternalID
	}
	now := t.now().Truncate(time.Second)
	claims := map[string]any{
		jwt.JwtIDKey: uuid.NewString(), jwt.IssuerKey: t.issuer, jwt.IssuedAtKey: now.Unix(), jwt.NotBeforeKey: now.Unix(),
		jwt.ExpirationKey: now.Add(tpl.TTL).Unix(), "sid": s.ID, jwt.SubjectKey: sub,
	}
	if tpl.ClaimsMapper != "" {
		mapped, err := t.mapClaims(ctx, tpl, s.JSON, claims)
		if err != nil {
			return "", err
		}
		for k, v := range mapped {
			claims[k] = v
		}
		claims[jwt.SubjectKey] = sub
	}
	tok := jwt.New()
	for k, v := range claims {
		if k == jwt.ExpirationKey || k == jwt.IssuedAtKey || k == jwt.NotBeforeKey {
			switch n := v.(type) {
			case int64:
				v = time.Unix(n, 0)
			case float64:
				v = time.Unix(int64(n), 0)
			}
		}
		if err := tok.Set(k, v); err != nil {
			return "", core.Errorf(core.CodeInvalid, "Unable to encode tokenized claims: claim %q: %v.", k, err)
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

// mapClaims runs the template's claims mapper and returns the object under
// "claims" of its output.
func (t *Tokenizer) mapClaims(ctx context.Context, tpl tokenTemplate, session json.RawMessage, claims map[string]any) (map[string]any, error) {
	if len(session) == 0 {
		session = json.RawMessage("{}")
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("tokenize: encode claims: %w", err)
	}
	out, err := t.mapper.Evaluate(ctx, tpl.MapperID, tpl.ClaimsMapper, map[string]json.RawMessage{"session": session, "claims": cj})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &core.Error{Code: core.CodeInvalid, Message: "Unable to execute tokenizer JsonNet.", Cause: err}
	}
	var res struct {
		Claims json.RawMessage `json:"claims"`
	}
	var mapped map[string]any
	if json.Unmarshal(out, &res) != nil || json.Unmarshal(res.Claims, &mapped) != nil || mapped == nil {
		return nil, core.Errorf(core.CodeInvalid, "Expected tokenizer JsonNet to return a claims object but it did not.")
	}
	return mapped, nil
}
