package kratos_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/jsonnet"
)

// checkTokenized verifies whoami's tokenized JWT with the template's
// public key set (and nothing else) and checks Kratos' claims.
func checkTokenized(t *testing.T, e *ssEnv, who resp) map[string]any {
	t.Helper()
	m := who.json(t)
	tok, _ := m["tokenized"].(string)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("tokenize_as: no JWT in %s", who.body)
	}
	if _, err := jwt.ParseString(tok, jwt.WithKeySet(e.tplKey), jwt.WithValidate(true)); err != nil {
		t.Fatalf("tokenized JWT not signed by the template's key: %v", err)
	}
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID(); kid != "template-key" {
		t.Errorf("kid %q, want the template key's", kid)
	}
	var claims map[string]any
	_ = json.Unmarshal(msg.Payload(), &claims)
	ident, _ := m["identity"].(map[string]any)
	if claims["sid"] != m["id"] || claims["sub"] != ident["id"] || claims["iss"] != e.base {
		t.Errorf("claims %v (session %v, identity %v)", claims, m["id"], ident["id"])
	}
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	if exp-iat != 60 || claims["nbf"] != claims["iat"] || claims["jti"] == nil {
		t.Errorf("times %v", claims)
	}
	return claims
}

// TestTokenizeAs: the tokenized JWT is signed with the template's key set
// (not the session keys), carries Kratos' claims, and is not a session
// credential: whoami refuses it as a Bearer token, as Kratos does.
func TestTokenizeAs(t *testing.T) {
	t.Parallel()
	e := newSelfServiceEnv(t)
	c := e.native(t)
	c.token = e.registerNative(t, c, "tok@example.com", "correct horse battery")
	tz := c.do("GET", "/sessions/whoami?tokenize_as=short", nil)
	must(t, tz, 200)
	checkTokenized(t, e, tz)
	tok, _ := tz.json(t)["tokenized"].(string)

	b := e.native(t)
	req, _ := http.NewRequest("GET", e.srv.URL+"/sessions/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	r, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami with the tokenized JWT as Bearer: %d, want 401", r.StatusCode)
	}
}

// TestTokenizeAsClaimsMapperAndHTTPSKeySet: a template whose key set and
// Jsonnet claims mapper are served over https (an httptest TLS server) signs
// the mapper's claims — read from std.extVar('session') and
// std.extVar('claims') — over Kratos' defaults, with sub kept; a mapper that
// fails answers 400 with Kratos' reason.
func TestTokenizeAsClaimsMapperAndHTTPSKeySet(t *testing.T) {
	t.Parallel()
	const mapper = `local s = std.extVar('session'); local c = std.extVar('claims');
{claims: {email: s.identity.traits.email, aal: s.authenticator_assurance_level, sub: 'cannot be changed', iss_seen: c.iss}}`
	var keySet []byte
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jwks.json":
			_, _ = w.Write(keySet)
		case "/claims.jsonnet":
			_, _ = w.Write([]byte(mapper))
		case "/broken.jsonnet":
			_, _ = w.Write([]byte(`error 'no claims for you'`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	e := newSelfServiceEnv(t, func(cfg *config.Config, o *kratos.SelfServiceOptions) {
		// The same private key set the other template reads from base64://,
		// now served over https.
		raw := strings.TrimPrefix(cfg.Session.WhoAmI.Tokenizer.Templates["short"].JWKSURL, "base64://")
		var err error
		if keySet, err = base64.StdEncoding.DecodeString(raw); err != nil {
			t.Fatal(err)
		}
		tpls := cfg.Session.WhoAmI.Tokenizer.Templates
		tpls["mapped"] = config.TokenizerTemplate{TTL: time.Minute, SubjectSource: "id", JWKSURL: srv.URL + "/jwks.json", ClaimsMapperURL: srv.URL + "/claims.jsonnet"}
		tpls["broken"] = config.TokenizerTemplate{TTL: time.Minute, SubjectSource: "id", JWKSURL: srv.URL + "/jwks.json", ClaimsMapperURL: srv.URL + "/broken.jsonnet"}
		o.Session.WhoAmI.Tokenizer.Templates = tpls
		o.FetchClient = srv.Client()
		if o.Jsonnet, err = jsonnet.New(jsonnet.Options{}); err != nil {
			t.Fatal(err)
		}
	})
	c := e.native(t)
	c.token = e.registerNative(t, c, "mapped@example.com", "correct horse battery")
	tz := c.do("GET", "/sessions/whoami?tokenize_as=mapped", nil)
	must(t, tz, 200)
	claims := checkTokenized(t, e, tz)
	for k, want := range map[string]any{"email": "mapped@example.com", "aal": "aal1", "iss_seen": e.base} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v (claims %v)", k, claims[k], want, claims)
		}
	}
	bad := c.do("GET", "/sessions/whoami?tokenize_as=broken", nil)
	must(t, bad, 400)
	if !strings.Contains(string(bad.body), "Unable to execute tokenizer JsonNet.") {
		t.Errorf("broken mapper: %s", bad.body)
	}
}
