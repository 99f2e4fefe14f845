package oidc

import (
	"context"
	"encoding/json"
	"slices"
)

// Provider kinds: Kratos' names for the provider key.
const (
	KindGeneric   = "generic"
	KindGoogle    = "google"
	KindMicrosoft = "microsoft"
	KindApple     = "apple"
	KindGitLab    = "gitlab"
	KindLinkedIn  = "linkedin"
	KindSlack     = "slack"
	KindAuth0     = "auth0"
	KindGitHub    = "github"
	KindDiscord   = "discord"
	KindFacebook  = "facebook"
)

// Kinds lists the provider kinds Latchkey implements.
var Kinds = []string{KindGeneric, KindGoogle, KindMicrosoft, KindApple, KindGitLab, KindLinkedIn, KindSlack, KindAuth0, KindGitHub, KindDiscord, KindFacebook}

// hankoBuiltins are the kinds Hanko offers under their own name.
var hankoBuiltins = []string{KindApple, KindDiscord, KindFacebook, KindGitHub, KindGoogle, KindLinkedIn, KindMicrosoft}

// PKCE modes (Kratos' pkce key).
const (
	PKCEAuto  = "auto"  // when the provider advertises S256
	PKCEForce = "force" // always
	PKCENever = "never"
)

// Provider is one configured upstream provider.
type Provider struct {
	ID       string // Kratos' provider id: in URLs and the credential identifier
	Kind     string // one of Kinds
	Label    string // button label; empty means the id
	Scope    []string
	PKCE     string          // PKCEAuto, PKCEForce or PKCENever
	Claims   json.RawMessage // OIDC "claims" request parameter (requested_claims); nil for none
	MapperID string          // where the mapper came from (mapper_url), for messages
	Mapper   string          // Jsonnet claims mapper; empty means the default mapping
	// AllowLinking lets a sign-in link into an existing account whose
	// verified address equals the provider's verified e-mail (Hanko's
	// allow_linking). Without it such a sign-in is a Conflict.
	AllowLinking bool
	Upstream     Upstream
}

// DisplayName is the provider's label, or its id.
func (p *Provider) DisplayName() string {
	if p.Label != "" {
		return p.Label
	}
	return p.ID
}

// HankoName is the name the Hanko face offers the provider under: a
// built-in kind Hanko knows by its own name when the id is that name too,
// every other provider as custom_<id>.
func (p *Provider) HankoName() string {
	if p.ID == p.Kind && slices.Contains(hankoBuiltins, p.Kind) {
		return p.Kind
	}
	return "custom_" + p.ID
}

// AuthRequest is what the authorization URL carries (OIDC Core §3.1.2.1).
type AuthRequest struct {
	RedirectURI   string
	State         string
	Nonce         string // empty for plain OAuth2 providers
	CodeChallenge string // S256 challenge; empty without PKCE
	Scope         []string
	Claims        json.RawMessage
	Params        map[string]string // upstream_parameters: login_hint, hd, prompt …
}

// Upstream talks to one provider. Implementations verify everything they
// return: an ID token's signature, issuer, audience and expiry (the nonce
// is compared here), a userinfo answer's subject.
type Upstream interface {
	// AuthURL returns the provider's authorization URL for r (discovering
	// the provider first when needed).
	AuthURL(ctx context.Context, r AuthRequest) (string, error)
	// SupportsPKCE says whether the provider advertises S256.
	SupportsPKCE(ctx context.Context) bool
	// IssuesIDTokens says whether the provider is an OpenID Connect
	// provider (a nonce is sent and checked).
	IssuesIDTokens() bool
	// Exchange redeems an authorization code and returns the verified
	// claims and the tokens.
	Exchange(ctx context.Context, code, verifier, redirectURI string) (*Claims, *Tokens, error)
	// VerifyIDToken verifies an ID token a native app obtained itself.
	VerifyIDToken(ctx context.Context, raw string) (*Claims, error)
}

// Claims is what the provider says about the user.
type Claims struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	GivenName     string
	FamilyName    string
	Picture       string
	Nonce         string         // the ID token's nonce claim; empty for OAuth2
	Raw           map[string]any // every claim, passed to mappers
}

// Tokens are the provider's tokens, stored encrypted with the credential.
type Tokens struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
}
