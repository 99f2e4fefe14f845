package kratos_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/store"
)

// The relying party of the tests: the origin a browser would claim. The
// server under test listens elsewhere (127.0.0.1), which the ceremonies do
// not look at.
var testRP = virtualwebauthn.RelyingParty{ID: "localhost", Name: "Latchkey", Origin: "http://localhost:4433"}

// withPasskeys enables the passkey method with the test relying party.
func withPasskeys(t *testing.T) ssOption {
	t.Helper()
	m, err := webauthn.New(webauthn.Config{RPID: testRP.ID, RPDisplayName: testRP.Name, RPOrigins: []string{testRP.Origin},
		NotFound: store.ErrNotFound, Conflict: store.ErrConflict})
	if err != nil {
		t.Fatal(err)
	}
	return func(_ *config.Config, o *kratos.SelfServiceOptions) {
		o.SelfService.Methods.Passkey.Enabled = true
		o.Passkeys = m
	}
}

// authenticator is a virtual authenticator holding one credential.
type authenticator struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newAuthenticator() *authenticator {
	return &authenticator{auth: virtualwebauthn.NewAuthenticator(), cred: newCredential()}
}

// newCredential returns a virtual credential whose P-256 public key
// coordinates are both 32 bytes long. virtualwebauthn writes them with
// big.Int.Bytes, which drops leading zero bytes, and a COSE key with a
// short coordinate is (rightly) refused: one key in about 128 would make a
// test fail by chance.
func newCredential() virtualwebauthn.Credential {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// create answers creation options ({"publicKey": …}) as
// navigator.credentials.create would, for the relying party rp.
func (a *authenticator) create(t *testing.T, rp virtualwebauthn.RelyingParty, options string) string {
	t.Helper()
	opts, err := virtualwebauthn.ParseAttestationOptions(options)
	if err != nil {
		t.Fatalf("parse creation options %s: %v", options, err)
	}
	a.auth.Options.UserHandle = []byte(opts.UserID)
	return virtualwebauthn.CreateAttestationResponse(rp, a.auth, a.cred, *opts)
}

// get answers request options as navigator.credentials.get would.
func (a *authenticator) get(t *testing.T, rp virtualwebauthn.RelyingParty, options string) string {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(options)
	if err != nil {
		t.Fatalf("parse request options %s: %v", options, err)
	}
	return virtualwebauthn.CreateAssertionResponse(rp, a.auth, a.cred, *opts)
}

// nodeValue returns the value of the flow's node named name ("" when it
// has none), failing when there is no such node.
func nodeValue(t *testing.T, f map[string]any, name string) string {
	t.Helper()
	for _, n := range asList(f["ui"].(map[string]any)["nodes"]) {
		a := n.(map[string]any)["attributes"].(map[string]any)
		if a["name"] == name {
			v, _ := a["value"].(string)
			return v
		}
	}
	t.Fatalf("flow has no %s node: %v", name, f["ui"])
	return ""
}

func hasNode(f map[string]any, name string) bool {
	for _, n := range asList(f["ui"].(map[string]any)["nodes"]) {
		if n.(map[string]any)["attributes"].(map[string]any)["name"] == name {
			return true
		}
	}
	return false
}

// spa returns a browser client that speaks JSON (an SPA such as Ory
// Elements).
func (e *ssEnv) spa(t *testing.T) *client {
	c := e.browser(t)
	c.json = true
	return c
}

// passkeySignUp registers email with a passkey on a on the profile_first
// registration of an SPA and returns the client, now signed in.
func (e *ssEnv) passkeySignUp(t *testing.T, a *authenticator, email string) *client {
	t.Helper()
	c := e.spa(t)
	f := c.do("GET", "/self-service/registration/browser", nil)
	must(t, f, 200)
	id := flowID(t, f)
	tr := map[string]any{"email": email}
	r := c.do("POST", "/self-service/registration?flow="+id, map[string]any{"method": "profile", "traits": tr, "csrf_token": csrfOf(t, f.json(t))})
	must(t, r, 400) // the credentials screen
	screen := r.json(t)
	var data struct {
		CredentialOptions    json.RawMessage `json:"credentialOptions"`
		DisplayNameFieldName string          `json:"displayNameFieldName"`
	}
	if err := json.Unmarshal([]byte(nodeValue(t, screen, "passkey_create_data")), &data); err != nil {
		t.Fatal(err)
	}
	if data.DisplayNameFieldName != "traits.email" {
		t.Errorf("displayNameFieldName = %q, want traits.email", data.DisplayNameFieldName)
	}
	// No method: the script submits the form natively, without a button.
	r = c.do("POST", "/self-service/registration?flow="+id, map[string]any{"traits": tr, "csrf_token": csrfOf(t, screen),
		"passkey_register": a.create(t, testRP, string(data.CredentialOptions))})
	must(t, r, 200)
	body := r.json(t)
	sess, _ := body["session"].(map[string]any)
	if sess == nil {
		t.Fatalf("registration answered no session: %s", r.body)
	}
	checkAMR(t, sess, "passkey")
	return c
}

// checkAMR checks a session's authentication methods.
func checkAMR(t *testing.T, sess map[string]any, want ...string) {
	t.Helper()
	var got []string
	for _, m := range asList(sess["authentication_methods"]) {
		got = append(got, m.(map[string]any)["method"].(string)+":"+m.(map[string]any)["aal"].(string))
	}
	var w []string
	for _, m := range want {
		w = append(w, m+":aal1")
	}
	if strings.Join(got, ",") != strings.Join(w, ",") || sess["authenticator_assurance_level"] != "aal1" {
		t.Errorf("authentication_methods = %v (aal %v), want %v", got, sess["authenticator_assurance_level"], w)
	}
}

// passkeyLoginFlow starts a browser login flow on c and returns it.
func passkeyLoginFlow(t *testing.T, c *client) map[string]any {
	t.Helper()
	f := c.do("GET", "/self-service/login/browser", nil)
	if c.json {
		must(t, f, 200)
		return f.json(t)
	}
	must(t, f, http.StatusSeeOther)
	r := c.do("GET", "/self-service/login/flows?id="+flowID(t, f), nil)
	must(t, r, 200)
	return r.json(t)
}

// TestPasskeyCeremonies signs up with a passkey, signs in with it (an SPA
// sending JSON, and a browser posting the form the way webauthn.js does),
// and checks the assertions that must be refused, on every backend.
func TestPasskeyCeremonies(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		a := newAuthenticator()
		e.passkeySignUp(t, a, "pia@example.com")

		// SPA login.
		c := e.spa(t)
		f := passkeyLoginFlow(t, c)
		if got := nodeAttr(t, f, "identifier", "autocomplete"); got != "username webauthn" {
			t.Errorf("identifier autocomplete = %v, want username webauthn", got)
		}
		r := c.do("POST", "/self-service/login?flow="+f["id"].(string), map[string]any{"method": "passkey",
			"csrf_token": csrfOf(t, f), "passkey_login": a.get(t, testRP, nodeValue(t, f, "passkey_challenge"))})
		must(t, r, 200)
		checkAMR(t, r.json(t)["session"].(map[string]any), "passkey")

		// A browser posting the form natively: no method, 303 to return_to.
		b := e.browser(t)
		f = passkeyLoginFlow(t, b)
		assertion := a.get(t, testRP, nodeValue(t, f, "passkey_challenge"))
		r = b.do("POST", "/self-service/login?flow="+f["id"].(string), url.Values{"csrf_token": {csrfOf(t, f)},
			"identifier": {""}, "passkey_login": {assertion}})
		must(t, r, http.StatusSeeOther)
		if loc := r.hdr.Get("Location"); strings.Contains(loc, "/ui/login") {
			t.Fatalf("login went back to the form: %s", loc)
		}
		b.json = true
		who := b.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		checkAMR(t, who.json(t), "passkey")

		// The same assertion again, on a new flow: its challenge is not this
		// flow's (a replay).
		refuse := func(name string, f map[string]any, c *client, answer string, want int) {
			t.Helper()
			r := c.do("POST", "/self-service/login?flow="+f["id"].(string), map[string]any{"method": "passkey",
				"csrf_token": csrfOf(t, f), "passkey_login": answer})
			must(t, r, 400)
			if ids := messageIDs(r.json(t)); !hasID(ids, want) {
				t.Errorf("%s: messages %v lack %d: %s", name, ids, want, r.body)
			}
			must(t, c.do("GET", "/sessions/whoami", nil), 401)
		}
		anon := e.spa(t)
		f2 := passkeyLoginFlow(t, anon)
		refuse("replayed assertion", f2, anon, assertion, kratos.MsgWebAuthnVerifierWrong)

		// An assertion made for another flow's challenge.
		other := passkeyLoginFlow(t, e.spa(t))
		f3 := passkeyLoginFlow(t, anon)
		refuse("challenge from another flow", f3, anon, a.get(t, testRP, nodeValue(t, other, "passkey_challenge")), kratos.MsgWebAuthnVerifierWrong)

		// The flow's challenge, answered on another origin.
		f4 := passkeyLoginFlow(t, anon)
		evil := virtualwebauthn.RelyingParty{ID: testRP.ID, Name: testRP.Name, Origin: "http://localhost.evil.example"}
		refuse("wrong origin", f4, anon, a.get(t, evil, nodeValue(t, f4, "passkey_challenge")), kratos.MsgWebAuthnVerifierWrong)

		// Another relying party's id hash.
		f5 := passkeyLoginFlow(t, anon)
		otherRP := virtualwebauthn.RelyingParty{ID: "example.com", Name: testRP.Name, Origin: testRP.Origin}
		refuse("wrong rp id", f5, anon, a.get(t, otherRP, nodeValue(t, f5, "passkey_challenge")), kratos.MsgWebAuthnVerifierWrong)

		// A forged signature.
		f6 := passkeyLoginFlow(t, anon)
		refuse("forged signature", f6, anon, forgeSignature(t, a.get(t, testRP, nodeValue(t, f6, "passkey_challenge"))), kratos.MsgWebAuthnVerifierWrong)

		// A passkey the server never saw.
		f7 := passkeyLoginFlow(t, anon)
		stranger := newAuthenticator()
		stranger.auth.Options.UserHandle = []byte("0123456789abcdef")
		refuse("unknown credential", f7, anon, stranger.get(t, testRP, nodeValue(t, f7, "passkey_challenge")), kratos.MsgNoWebAuthnUser)

		// Garbage.
		f8 := passkeyLoginFlow(t, anon)
		refuse("malformed", f8, anon, `{"id":"x"}`, kratos.MsgWebAuthnVerifierWrong)

		// After a refused answer the flow holds a new challenge, which works.
		f8b := anon.do("GET", "/self-service/login/flows?id="+f8["id"].(string), nil)
		must(t, f8b, 200)
		r = anon.do("POST", "/self-service/login?flow="+f8["id"].(string), map[string]any{"method": "passkey",
			"csrf_token": csrfOf(t, f8b.json(t)), "passkey_login": a.get(t, testRP, nodeValue(t, f8b.json(t), "passkey_challenge"))})
		must(t, r, 200)
	}, withPasskeys(t))
}

// forgeSignature flips a bit of an assertion's signature.
func forgeSignature(t *testing.T, answer string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(answer), &m); err != nil {
		t.Fatal(err)
	}
	resp := m["response"].(map[string]any)
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(resp["signature"].(string), "="))
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-1] ^= 1
	resp["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	out, _ := json.Marshal(m)
	return string(out)
}

// nodeAttr returns an attribute of the node named name.
func nodeAttr(t *testing.T, f map[string]any, name, attr string) any {
	t.Helper()
	for _, n := range asList(f["ui"].(map[string]any)["nodes"]) {
		a := n.(map[string]any)["attributes"].(map[string]any)
		if a["name"] == name {
			return a[attr]
		}
	}
	t.Fatalf("flow has no %s node", name)
	return nil
}

// TestPasskeyAPIFlows: passkeys serve browser flows only, as Kratos'; an
// API flow shows no passkey nodes and finds no strategy for one.
func TestPasskeyAPIFlows(t *testing.T) {
	t.Parallel()
	e := newSelfServiceEnv(t, withPasskeys(t))
	c := e.native(t)
	f := c.do("GET", "/self-service/login/api", nil)
	must(t, f, 200)
	if hasNode(f.json(t), "passkey_challenge") || strings.Contains(string(f.body), "webauthn_script") {
		t.Errorf("API login flow offers passkeys: %s", f.body)
	}
	r := c.do("POST", "/self-service/login?flow="+flowID(t, f), map[string]any{"method": "passkey", "passkey_login": "{}"})
	must(t, r, 400)
	if ids := messageIDs(r.json(t)); !hasID(ids, kratos.MsgLoginNoStrategy) {
		t.Errorf("messages %v lack %d", ids, kratos.MsgLoginNoStrategy)
	}
	reg := c.do("GET", "/self-service/registration/api", nil)
	must(t, reg, 200)
	if strings.Contains(string(reg.body), "passkey") {
		t.Errorf("API registration flow offers passkeys: %s", reg.body)
	}
}

// TestPasskeySettings adds a second passkey, signs in with it, removes the
// first, and cannot remove the last one (the account's only way in).
func TestPasskeySettings(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		first := newAuthenticator()
		c := e.passkeySignUp(t, first, "sete@example.com")
		sf := c.do("GET", "/self-service/settings/browser", nil)
		must(t, sf, 200)
		f := sf.json(t)
		id := f["id"].(string)
		if v := nodeAttr(t, f, "passkey_remove", "disabled"); v != true {
			t.Errorf("the only passkey's remove button is not disabled: %v", v)
		}
		second := newAuthenticator()
		r := c.do("POST", "/self-service/settings?flow="+id, map[string]any{"csrf_token": csrfOf(t, f),
			"passkey_settings_register": second.create(t, testRP, nodeValue(t, f, "passkey_create_data"))})
		must(t, r, 200)
		f = r.json(t)
		if f["state"] != "success" || !hasID(messageIDs(f), kratos.MsgSettingsSaved) {
			t.Errorf("adding a passkey: %s", r.body)
		}
		var removes []string
		for _, n := range asList(f["ui"].(map[string]any)["nodes"]) {
			a := n.(map[string]any)["attributes"].(map[string]any)
			if a["name"] == "passkey_remove" {
				removes = append(removes, a["value"].(string))
				if a["disabled"] != false {
					t.Errorf("remove buttons disabled with two passkeys: %v", a)
				}
				label := n.(map[string]any)["meta"].(map[string]any)["label"].(map[string]any)
				if label["id"].(float64) != kratos.MsgSettingsRemovePasskey {
					t.Errorf("remove label %v", label)
				}
			}
		}
		if len(removes) != 2 {
			t.Fatalf("remove buttons %v, want two", removes)
		}
		// The second passkey signs in.
		lc := e.spa(t)
		lf := passkeyLoginFlow(t, lc)
		must(t, lc.do("POST", "/self-service/login?flow="+lf["id"].(string), map[string]any{"method": "passkey",
			"csrf_token": csrfOf(t, lf), "passkey_login": second.get(t, testRP, nodeValue(t, lf, "passkey_challenge"))}), 200)

		// Remove the first (by the button's value), then the last is refused.
		firstKey := strings.ToLower(strings.TrimSpace(hexOf(first.cred.ID)))
		r = c.do("POST", "/self-service/settings?flow="+id, map[string]any{"csrf_token": csrfOf(t, f), "passkey_remove": firstKey})
		must(t, r, 200)
		f = r.json(t)
		r = c.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "passkey", "csrf_token": csrfOf(t, f), "passkey_remove": hexOf(second.cred.ID)})
		must(t, r, 400)
		if !strings.Contains(string(r.body), "lock you out") {
			t.Errorf("removing the last passkey: %s", r.body)
		}
		// The removed passkey signs in nowhere.
		lc = e.spa(t)
		lf = passkeyLoginFlow(t, lc)
		r = lc.do("POST", "/self-service/login?flow="+lf["id"].(string), map[string]any{"method": "passkey",
			"csrf_token": csrfOf(t, lf), "passkey_login": first.get(t, testRP, nodeValue(t, lf, "passkey_challenge"))})
		must(t, r, 400)
		if !hasID(messageIDs(r.json(t)), kratos.MsgNoWebAuthnUser) {
			t.Errorf("removed passkey: %s", r.body)
		}
	}, withPasskeys(t))
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// createOptions returns the creation options of a registration flow's
// passkey_create_data ({"credentialOptions": {"publicKey": …}}).
func createOptions(t *testing.T, f map[string]any) string {
	t.Helper()
	var data struct {
		CredentialOptions json.RawMessage `json:"credentialOptions"`
	}
	if err := json.Unmarshal([]byte(nodeValue(t, f, "passkey_create_data")), &data); err != nil {
		t.Fatal(err)
	}
	return string(data.CredentialOptions)
}

// forgeAttestation changes a byte of an attestation's client data, so its
// challenge no longer verifies.
func forgeAttestation(t *testing.T, answer string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(answer), &m); err != nil {
		t.Fatal(err)
	}
	resp := m["response"].(map[string]any)
	cd, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(resp["clientDataJSON"].(string), "="))
	if err != nil {
		t.Fatal(err)
	}
	var client map[string]any
	if err := json.Unmarshal(cd, &client); err != nil {
		t.Fatal(err)
	}
	client["challenge"] = "AAAA" + client["challenge"].(string)[4:]
	cd, _ = json.Marshal(client)
	resp["clientDataJSON"] = base64.RawURLEncoding.EncodeToString(cd)
	out, _ := json.Marshal(m)
	return string(out)
}
