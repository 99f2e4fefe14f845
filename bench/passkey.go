package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/descope/virtualwebauthn"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// hankoFlow drives one Hanko Flow API flow the way hanko-elements does:
// start posts to /<name>, act posts an offered action with its input and the
// state's CSRF token. bearer, when set, is sent as the session.
type hankoFlow struct {
	r      *Runner
	bearer string
	st     hankoState
	rep    *reply
	steps  []string // the paths and actions posted, for notes
}

func (f *hankoFlow) post(ctx context.Context, href string, body any) error {
	if !strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "https://") {
		href = f.r.public + href
	}
	step := href
	if u, err := url.Parse(href); err == nil {
		step = u.Path
		if a := u.Query().Get("action"); a != "" {
			step = a
			if i := strings.IndexByte(a, '@'); i >= 0 {
				step = a[:i]
			}
		}
	}
	f.steps = append(f.steps, step)
	c := &call{method: http.MethodPost, url: href, body: body, want: []int{http.StatusOK}}
	if f.bearer != "" {
		c.header = http.Header{"Authorization": {"Bearer " + f.bearer}}
	}
	rep, err := c.do(ctx, f.r.hc)
	if err != nil {
		return err
	}
	f.st = hankoState{}
	if err := rep.decode(c, &f.st); err != nil {
		return err
	}
	f.rep = rep
	return nil
}

func (f *hankoFlow) start(ctx context.Context, name string) error {
	return f.post(ctx, "/"+name, []byte(`{}`))
}

// act posts action with input; it fails when the state does not offer it.
func (f *hankoFlow) act(ctx context.Context, action string, input map[string]any) error {
	a, ok := f.st.Actions[action]
	if !ok {
		return fmt.Errorf("hanko flow: state %q offers no %s: %v", f.st.Name, action, f.st.actionNames())
	}
	if input == nil {
		input = map[string]any{}
	}
	return f.post(ctx, a.Href, map[string]any{"input_data": input, "csrf_token": f.st.CSRFToken})
}

// token returns the session JWT of a success state.
func (f *hankoFlow) token() (string, error) {
	if f.st.Name != "success" {
		return "", fmt.Errorf("hanko flow: ended in state %q, not success: %v", f.st.Name, f.st.actionNames())
	}
	if t := f.rep.header.Get("X-Auth-Token"); t != "" {
		return t, nil
	}
	for _, ck := range (&http.Response{Header: f.rep.header}).Cookies() {
		if ck.Name == "hanko" && ck.Value != "" {
			return ck.Value, nil
		}
	}
	return "", errors.New("hanko flow: success without X-Auth-Token or hanko cookie")
}

// passkeyCaps are the capabilities of a browser with WebAuthn and a
// platform authenticator, without conditional mediation (the "Sign in with
// a passkey" button).
var passkeyCaps = map[string]any{"webauthn_available": true,
	"webauthn_conditional_mediation_available": false, "webauthn_platform_authenticator_available": true}

// passkeyUser is an identity with one passkey held by a virtual
// authenticator in this process.
type passkeyUser struct {
	email string
	auth  virtualwebauthn.Authenticator
	cred  virtualwebauthn.Credential
}

// webauthnRP is the relying party the bench's authenticators answer for:
// the RP ID the server sends, and the origin a browser on the target's
// public URL would have. Latchkey's --dev on an IP host uses localhost and
// http://localhost:<port>, which is what an IP loopback URL maps to here.
func (r *Runner) webauthnRP(rpID string) virtualwebauthn.RelyingParty {
	origin := r.o.WebAuthnOrigin
	if origin == "" {
		u, _ := url.Parse(r.public) // checked by New
		host := u.Hostname()
		if net.ParseIP(host) != nil {
			host = "localhost"
		}
		origin = u.Scheme + "://" + host
		if p := u.Port(); p != "" {
			origin += ":" + p
		}
	}
	return virtualwebauthn.RelyingParty{ID: rpID, Name: rpID, Origin: origin}
}

// newPasskeyUser draws an ES256 credential. virtualwebauthn drops leading
// zeros of EC coordinates, and a key with a short coordinate is refused by
// every verifier: such keys are drawn again.
func newPasskeyUser(email string) *passkeyUser {
	u := &passkeyUser{email: email, auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{
		BackupEligible: true, BackupState: true})}
	for {
		u.cred = virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		if _, err := webauthncose.ParsePublicKey(u.cred.Key.AttestationData()); err == nil {
			return u
		}
	}
}

// registerPasskey logs u in with its password (Hanko /login) and creates
// its passkey in the Hanko /profile flow: webauthn_credential_create, then
// the attestation the virtual authenticator signs.
func (r *Runner) registerPasskey(ctx context.Context, u *passkeyUser) error {
	token, err := r.hankoLoginOnce(ctx, u.email)
	if err != nil {
		return fmt.Errorf("password login: %w", err)
	}
	f := &hankoFlow{r: r, bearer: token}
	if err := f.start(ctx, "profile"); err != nil {
		return err
	}
	if _, ok := f.st.Actions["register_client_capabilities"]; ok {
		if err := f.act(ctx, "register_client_capabilities", passkeyCaps); err != nil {
			return err
		}
	}
	if _, ok := f.st.Actions["webauthn_credential_create"]; !ok {
		return &SkipError{Reason: fmt.Sprintf("the Hanko profile offers no passkey creation (state %q: %v): set hanko.passkey.enabled "+
			"and a usable relying party (selfservice.methods.passkey.config.rp.id and .origins; --dev on 127.0.0.1 uses localhost)", f.st.Name, f.st.actionNames())}
	}
	if err := f.act(ctx, "webauthn_credential_create", nil); err != nil {
		return err
	}
	raw, ok := f.st.Payload["creation_options"]
	if !ok {
		return fmt.Errorf("hanko profile: state %q has no creation_options", f.st.Name)
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(raw))
	if err != nil {
		return fmt.Errorf("hanko profile: creation_options: %w", err)
	}
	u.auth.Options.UserHandle = []byte(opts.UserID)
	att := virtualwebauthn.CreateAttestationResponse(r.webauthnRP(opts.RelyingPartyID), u.auth, u.cred, *opts)
	if err := f.act(ctx, "webauthn_verify_attestation_response", map[string]any{"public_key": json.RawMessage(att)}); err != nil {
		return err
	}
	if f.st.Error != nil {
		return fmt.Errorf("hanko profile: passkey refused: %s", f.st.Error.Code)
	}
	return nil
}

// passkeyLoginOnce signs u in with its passkey, as the "Sign in with a
// passkey" button does: POST /login, register_client_capabilities,
// webauthn_generate_request_options, then webauthn_verify_assertion_response
// with an ES256 assertion signed here. Prompts after it (device trust,
// onboarding) are skipped. It returns the session JWT.
func (r *Runner) passkeyLoginOnce(ctx context.Context, u *passkeyUser) (string, error) {
	_, t, err := r.passkeyLoginTrace(ctx, u)
	return t, err
}

// passkeyLoginTrace is passkeyLoginOnce returning the steps it posted too.
func (r *Runner) passkeyLoginTrace(ctx context.Context, u *passkeyUser) ([]string, string, error) {
	f := &hankoFlow{r: r}
	t, err := r.passkeyLoginFlow(ctx, f, u)
	return f.steps, t, err
}

func (r *Runner) passkeyLoginFlow(ctx context.Context, f *hankoFlow, u *passkeyUser) (string, error) {
	if err := f.start(ctx, "login"); err != nil {
		return "", err
	}
	if err := f.act(ctx, "register_client_capabilities", passkeyCaps); err != nil {
		return "", err
	}
	if err := f.act(ctx, "webauthn_generate_request_options", nil); err != nil {
		return "", err
	}
	raw, ok := f.st.Payload["request_options"]
	if !ok {
		return "", fmt.Errorf("hanko login: state %q has no request_options", f.st.Name)
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(string(raw))
	if err != nil {
		return "", fmt.Errorf("hanko login: request_options: %w", err)
	}
	as := virtualwebauthn.CreateAssertionResponse(r.webauthnRP(opts.RelyingPartyID), u.auth, u.cred, *opts)
	if err := f.act(ctx, "webauthn_verify_assertion_response", map[string]any{"assertion_response": json.RawMessage(as)}); err != nil {
		return "", err
	}
	for range 4 {
		if _, ok := f.st.Actions["skip"]; !ok || f.st.Name == "success" {
			break
		}
		if err := f.act(ctx, "skip", nil); err != nil {
			return "", err
		}
	}
	return f.token()
}

func (r *Runner) passkeyLogin(ctx context.Context) ([]Result, error) {
	if err := r.hankoFace(ctx); err != nil {
		return nil, err
	}
	n := max(2*r.o.Load.Concurrency, 8)
	users, err := r.ensureUsers(ctx, n)
	if err != nil {
		return nil, err
	}
	pk := make([]*passkeyUser, n)
	for i := range pk {
		pk[i] = newPasskeyUser(users[i].email)
	}
	// The first registration alone, so a target without passkeys is
	// skipped with its reason rather than n times.
	if err := r.registerPasskey(ctx, pk[0]); err != nil {
		return nil, limitedSkip(skipIfMissing("Hanko passkey registration", err))
	}
	if err := r.parallel(ctx, n-1, func(ctx context.Context, i int) error { return r.registerPasskey(ctx, pk[i+1]) }); err != nil {
		return nil, limitedSkip(err)
	}
	r.logf("registered %d passkeys", n)
	steps, _, err := r.passkeyLoginTrace(ctx, pk[0])
	if err != nil {
		return nil, err
	}
	res, err := r.measure(ctx, "passkey-login",
		fmt.Sprintf("%d identities with one passkey each; %d requests per login: %s", n, len(steps), strings.Join(steps, ", ")),
		r.serverPID(), "server", 1, func(ctx context.Context, _ int, i int64) error {
			_, err := r.passkeyLoginOnce(ctx, pk[i%int64(n)])
			return err
		})
	res.Crypto = "server: one ES256 (P-256 ECDSA) assertion signature verify, SHA-256 of client data, one session JWT signed; client (bench, not counted): one ES256 signature"
	return []Result{res}, err
}
