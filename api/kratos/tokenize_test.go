package kratos_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
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
