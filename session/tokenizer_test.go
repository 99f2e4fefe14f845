package session_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/latchkey/latchkey/session"
)

// templateKey returns a private JWK (kid, alg set as given) and its JWKS.
func templateKey(t *testing.T, kid string, alg jwa.SignatureAlgorithm, raw any) (jwk.Key, []byte) {
	t.Helper()
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		_ = k.Set(jwk.KeyIDKey, kid)
	}
	if alg != (jwa.SignatureAlgorithm{}) {
		_ = k.Set(jwk.AlgorithmKey, alg)
	}
	set := jwk.NewSet()
	_ = set.AddKey(k)
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return k, b
}

func b64URL(b []byte) string { return "base64://" + base64.StdEncoding.EncodeToString(b) }

func TestTokenizer(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	priv, jwks := templateKey(t, "tpl-es", jwa.ES256(), ec)
	dir := t.TempDir()
	file := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(file, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	_, edJWKS := templateKey(t, "tpl-ed", jwa.EdDSA(), edPriv)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tz, err := session.NewTokenizer("https://id.example.com/", map[string]session.TokenTemplate{
		"b64":  {TTL: time.Minute, SubjectSource: "id", JWKSURL: b64URL(jwks)},
		"file": {TTL: time.Hour, SubjectSource: "external_id", JWKSURL: "file://" + file},
		"ed":   {TTL: time.Minute, JWKSURL: b64URL(edJWKS)},
	}, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := priv.PublicKey()
	for _, tc := range []struct {
		tpl, ext, wantSub string
		ttl               time.Duration
	}{
		{"b64", "", "6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c6", time.Minute},
		{"file", "ext-42", "ext-42", time.Hour},
	} {
		tok, err := tz.Tokenize(context.Background(), tc.tpl, session.TokenSession{ID: "0b5e3c7a-1d2f-4e6a-8b9c-0d1e2f3a4b5c",
			IdentityID: "6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c6", ExternalID: tc.ext})
		if err != nil {
			t.Fatalf("%s: %v", tc.tpl, err)
		}
		// Signed with the template's key: its public key verifies it.
		msg, err := jws.Parse([]byte(tok))
		if err != nil {
			t.Fatal(err)
		}
		h := msg.Signatures()[0].ProtectedHeaders()
		if kid, _ := h.KeyID(); kid != "tpl-es" {
			t.Errorf("%s: kid %q", tc.tpl, kid)
		}
		if alg, _ := h.Algorithm(); alg != jwa.ES256() {
			t.Errorf("%s: alg %v", tc.tpl, alg)
		}
		if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.ES256(), pub)); err != nil {
			t.Fatalf("%s: not signed by the template key: %v", tc.tpl, err)
		}
		var claims map[string]any
		if err := json.Unmarshal(msg.Payload(), &claims); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"iss": "https://id.example.com/", "sid": "0b5e3c7a-1d2f-4e6a-8b9c-0d1e2f3a4b5c", "sub": tc.wantSub,
			"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(tc.ttl).Unix())}
		for k, v := range want {
			if claims[k] != v {
				t.Errorf("%s: claim %s = %v, want %v", tc.tpl, k, claims[k], v)
			}
		}
		if jti, _ := claims["jti"].(string); len(jti) != 36 {
			t.Errorf("%s: jti %v", tc.tpl, claims["jti"])
		}
		if len(claims) != 7 {
			t.Errorf("%s: claims %v, want exactly jti iss iat nbf exp sid sub", tc.tpl, claims)
		}
	}
	if tok, err := tz.Tokenize(context.Background(), "ed", session.TokenSession{ID: "s", IdentityID: "i"}); err != nil || strings.Count(tok, ".") != 2 {
		t.Fatalf("EdDSA template: %q %v", tok, err)
	}
	if _, err := tz.Tokenize(context.Background(), "file", session.TokenSession{ID: "s", IdentityID: "i"}); err == nil {
		t.Error("external_id subject without an external id was signed")
	}
	if _, err := tz.Tokenize(context.Background(), "nope", session.TokenSession{ID: "s", IdentityID: "i"}); err == nil {
		t.Error("unknown template signed")
	}
}

// TestTokenizerRefusesKeySets: a template whose key set cannot be read or
// holds no private signing key stops the start with the template's key
// named.
func TestTokenizerRefusesKeySets(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, noAlg := templateKey(t, "k", jwa.SignatureAlgorithm{}, ec)
	_, public := templateKey(t, "k", jwa.ES256(), &ec.PublicKey)
	_, hmac := templateKey(t, "k", jwa.HS256(), []byte("a symmetric secret of 32 bytes!!"))
	_, wrongAlg := templateKey(t, "k", jwa.RS256(), ec)
	for name, tc := range map[string]struct{ url, msg string }{
		"missing file":   {"file:///nonexistent/jwks.json", "read the key set"},
		"no url":         {"", "is required"},
		"https":          {"https://keys.example.com/jwks.json", "must be fetched by the caller"},
		"not base64":     {"base64://%%%", "does not hold base64"},
		"not a key set":  {b64URL([]byte(`{"keys":[{"kty":"nope"}]}`)), "not a JWKS"},
		"empty set":      {b64URL([]byte(`{"keys":[]}`)), "holds no keys"},
		"no alg":         {b64URL(noAlg), `has no "alg"`},
		"public only":    {b64URL(public), "not a private key"},
		"symmetric":      {b64URL(hmac), "symmetric"},
		"alg of another": {b64URL(wrongAlg), "cannot sign with RS256"},
	} {
		_, err := session.NewTokenizer("https://id.example.com/", map[string]session.TokenTemplate{"app": {TTL: time.Minute, JWKSURL: tc.url}}, nil, nil)
		var ke *session.TemplateKeyError
		if !errors.As(err, &ke) || !strings.Contains(err.Error(), "session.whoami.tokenizer.templates.app.jwks_url") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want an error naming the key with …%s…", name, err, tc.msg)
		}
	}
}

// mapperFunc is an Evaluator for tests: it answers with out, or err, and
// records the variables it was given.
type mapperFunc struct {
	out  string
	err  error
	vars map[string]json.RawMessage
}

func (m *mapperFunc) Evaluate(_ context.Context, _, _ string, vars map[string]json.RawMessage) (json.RawMessage, error) {
	m.vars = vars
	return json.RawMessage(m.out), m.err
}

// TestTokenizerClaimsMapper: the mapper sees the session and the default
// claims, its claims are merged over the defaults, sub cannot be changed,
// and a failing mapper or one without a claims object is refused (Kratos'
// session/tokenizer.go).
func TestTokenizerClaimsMapper(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, jwks := templateKey(t, "k", jwa.ES256(), ec)
	for name, tc := range map[string]struct {
		out     string
		err     error
		want    map[string]any
		wantErr string
	}{
		"merged": {out: `{"claims":{"email":"ada@example.com","sub":"someone else","iss":"https://other/","aal":"aal1"}}`,
			want: map[string]any{"email": "ada@example.com", "sub": "i", "iss": "https://other/", "aal": "aal1", "sid": "s"}},
		"no claims object":  {out: `{"claim":{}}`, wantErr: "return a claims object"},
		"claims not object": {out: `{"claims":[1]}`, wantErr: "return a claims object"},
		"fails":             {err: errors.New("boom"), wantErr: "Unable to execute tokenizer JsonNet"},
		"bad exp":           {out: `{"claims":{"exp":"soon"}}`, wantErr: "claim \"exp\""},
	} {
		m := &mapperFunc{out: tc.out, err: tc.err}
		tz, err := session.NewTokenizer("https://id.example.com/", map[string]session.TokenTemplate{
			"app": {TTL: time.Minute, KeySet: jwks, JWKSURL: "https://keys.example.com/", ClaimsMapper: "{}", MapperID: "base64://e30="}}, nil, m)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := tz.Tokenize(context.Background(), "app", session.TokenSession{ID: "s", IdentityID: "i", JSON: json.RawMessage(`{"id":"s"}`)})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want …%s…", name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(m.vars["session"]) != `{"id":"s"}` || !strings.Contains(string(m.vars["claims"]), `"sid":"s"`) {
			t.Errorf("%s: mapper variables %s", name, m.vars)
		}
		msg, err := jws.Parse([]byte(tok))
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := json.Unmarshal(msg.Payload(), &claims); err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.want {
			if claims[k] != v {
				t.Errorf("%s: claim %s = %v, want %v", name, k, claims[k], v)
			}
		}
	}
	if _, err := session.NewTokenizer("https://id.example.com/", map[string]session.TokenTemplate{
		"app": {TTL: time.Minute, KeySet: jwks, ClaimsMapper: "{}"}}, nil, nil); err == nil || !strings.Contains(err.Error(), "claims_mapper_url") {
		t.Errorf("a mapper without an evaluator: %v", err)
	}
}
