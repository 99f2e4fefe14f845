package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/latchkey/latchkey/core"
)

// Pending is what a flow keeps between the redirect to the provider and the
// callback. The state itself is not kept, only its hash: the browser holds
// it in a cookie and the provider hands it back.
type Pending struct {
	Provider    string `json:"provider"`
	StateHash   string `json:"state_hash"`
	Nonce       string `json:"nonce,omitempty"`
	Verifier    string `json:"verifier,omitempty"`
	RedirectURI string `json:"redirect_uri"`
}

// Start is the beginning of a sign-in at a provider.
type Start struct {
	URL     string  // send the browser here
	State   string  // set it as the face's state cookie
	Pending Pending // keep it in the flow
}

// Begin prepares the authorization request for the flow flowID: a fresh
// state that names the flow, a nonce for OpenID Connect providers and a
// PKCE S256 verifier when the provider supports it (or pkce is force).
// params are the upstream_parameters passed through (login_hint, hd,
// prompt …).
func (m *Method) Begin(ctx context.Context, p *Provider, flowID, redirectURI string, params map[string]string) (*Start, error) {
	secret, err := m.random(32)
	if err != nil {
		return nil, err
	}
	state := flowID + "." + secret
	pend := Pending{Provider: p.ID, StateHash: hash(state), RedirectURI: redirectURI}
	req := AuthRequest{RedirectURI: redirectURI, State: state, Scope: p.Scope, Claims: p.Claims, Params: params}
	if p.Upstream.IssuesIDTokens() {
		if pend.Nonce, err = m.random(24); err != nil {
			return nil, err
		}
		req.Nonce = pend.Nonce
	}
	if p.PKCE == PKCEForce || (p.PKCE == PKCEAuto && p.Upstream.SupportsPKCE(ctx)) {
		if pend.Verifier, err = m.random(32); err != nil {
			return nil, err
		}
		// RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))).
		sum := sha256.Sum256([]byte(pend.Verifier))
		req.CodeChallenge = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	u, err := p.Upstream.AuthURL(ctx, req)
	if err != nil {
		return nil, &core.Error{Code: core.CodeUnavailable, Message: fmt.Sprintf("%s cannot be reached right now. Please try again later or sign in another way.", p.DisplayName()), Cause: err}
	}
	return &Start{URL: u, State: state, Pending: pend}, nil
}

// FlowID returns the flow id a state names, or "" when it names none.
func FlowID(state string) string {
	id, _, ok := strings.Cut(state, ".")
	if !ok || len(id) > 64 {
		return ""
	}
	return id
}

// Callback is what came back from the provider and the browser.
type Callback struct {
	State            string // the state query parameter
	CookieState      string // the state cookie the browser sent
	Code             string
	Error            string // the provider's error (e.g. access_denied)
	ErrorDescription string
}

// Finish checks a callback against the flow's Pending and redeems the code:
// the provider's error is reported as such; the state must equal the
// browser's cookie and the flow's hash of it; the ID token's nonce must be
// the flow's. It returns the verified claims and the tokens. Errors are
// *core.Error: CodeUnauthorized for the provider's refusal, CodeInvalid for
// a tampered or foreign callback, CodeUnavailable when the provider could
// not be reached or its answer not verified.
func (m *Method) Finish(ctx context.Context, p *Provider, pend Pending, cb Callback) (*Claims, *Tokens, error) {
	if cb.Error != "" {
		msg := fmt.Sprintf("%s refused the sign-in (%s).", p.DisplayName(), clip(cb.Error, 64))
		if cb.ErrorDescription != "" {
			msg = fmt.Sprintf("%s refused the sign-in (%s: %s).", p.DisplayName(), clip(cb.Error, 64), clip(cb.ErrorDescription, 200))
		}
		return nil, nil, &core.Error{Code: core.CodeUnauthorized, Message: msg}
	}
	if pend.Provider != p.ID || pend.StateHash == "" {
		return nil, nil, errState("this flow did not start a sign-in with " + p.DisplayName())
	}
	if cb.State == "" || cb.CookieState == "" ||
		subtle.ConstantTimeCompare([]byte(cb.State), []byte(cb.CookieState)) != 1 ||
		subtle.ConstantTimeCompare([]byte(hash(cb.State)), []byte(pend.StateHash)) != 1 {
		return nil, nil, errState("the state does not match the one this browser was sent with")
	}
	if cb.Code == "" {
		return nil, nil, &core.Error{Code: core.CodeInvalid, Field: "code", Message: "The provider's answer has no authorization code. Please start the sign-in again."}
	}
	claims, tokens, err := p.Upstream.Exchange(ctx, cb.Code, pend.Verifier, pend.RedirectURI)
	if err != nil {
		return nil, nil, &core.Error{Code: core.CodeUnavailable, Message: fmt.Sprintf("The answer of %s could not be verified. Please try again.", p.DisplayName()), Cause: err}
	}
	if p.Upstream.IssuesIDTokens() && subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(pend.Nonce)) != 1 {
		return nil, nil, &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("The ID token of %s was not issued for this sign-in (nonce mismatch). Please start again.", p.DisplayName())}
	}
	if err := checkClaims(p, claims); err != nil {
		return nil, nil, err
	}
	return claims, tokens, nil
}

// VerifyNative verifies an ID token a native app obtained from the provider
// itself (Kratos' id_token + id_token_nonce). When the token carries a
// nonce the app must send it; Apple and Google's iOS SDK put the SHA-256
// (hex) of the app's nonce in the token, which is accepted too.
func (m *Method) VerifyNative(ctx context.Context, p *Provider, idToken, nonce string) (*Claims, error) {
	if !p.Upstream.IssuesIDTokens() {
		return nil, &core.Error{Code: core.CodeInvalid, Field: "id_token", Message: fmt.Sprintf("The provider %s does not issue ID tokens; sign in through the browser instead.", p.ID)}
	}
	claims, err := p.Upstream.VerifyIDToken(ctx, idToken)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInvalid, Field: "id_token", Message: "The id_token is not valid: " + clip(err.Error(), 200), Cause: err}
	}
	switch {
	case claims.Nonce == "" && nonce == "":
	case claims.Nonce == "" || nonce == "":
		return nil, &core.Error{Code: core.CodeInvalid, Field: "id_token_nonce", Message: "The id_token's nonce and id_token_nonce must both be set and match."}
	default:
		sum := sha256.Sum256([]byte(nonce))
		if subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(nonce)) != 1 &&
			subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(hex.EncodeToString(sum[:]))) != 1 {
			return nil, &core.Error{Code: core.CodeInvalid, Field: "id_token_nonce", Message: "The id_token_nonce does not match the nonce in the id_token."}
		}
	}
	if err := checkClaims(p, claims); err != nil {
		return nil, err
	}
	return claims, nil
}

func checkClaims(p *Provider, c *Claims) error {
	if c == nil || c.Subject == "" || len(c.Subject) > 255 {
		return &core.Error{Code: core.CodeUnavailable, Message: fmt.Sprintf("%s did not identify the user (no subject). Please try another way to sign in.", p.DisplayName())}
	}
	if c.Raw == nil {
		c.Raw = map[string]any{}
	}
	return nil
}

func errState(why string) error {
	return &core.Error{Code: core.CodeInvalid, Field: "state",
		Message: "The sign-in could not be matched to this browser (" + why + "). Please start the sign-in again from the same browser."}
}

func (m *Method) random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(m.rand, b); err != nil {
		return "", &core.Error{Code: core.CodeInternal, Message: "An internal error occurred.", Cause: fmt.Errorf("oidc: random: %w", err)}
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// clip shortens provider-supplied text for messages and keeps it printable.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
