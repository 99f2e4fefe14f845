package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/method/oidc"
)

// Config is one provider's connection settings (Kratos' provider keys).
type Config struct {
	Kind            string
	ClientID        string
	ClientSecret    string
	IssuerURL       string // discovery; required for generic and auth0
	AuthURL         string // overrides the authorization endpoint
	TokenURL        string // overrides the token endpoint
	MicrosoftTenant string
	// APIURL overrides the API base of plain OAuth2 providers (GitHub's
	// https://api.github.com …); tests point it at a local server.
	APIURL string
	// Apple's client secret is a JWT signed with the team's key.
	AppleTeamID       string
	ApplePrivateKeyID string
	ApplePrivateKey   string
	// HTTPClient is used for every request; nil means NewHTTPClient().
	HTTPClient *http.Client
}

// DefaultTimeout bounds one request to a provider (discovery, token,
// userinfo, JWKS).
const DefaultTimeout = 10 * time.Second

// MaxIdleConnsPerHost is how many idle keep-alive connections the client of
// NewHTTPClient keeps to one provider host. http.DefaultTransport keeps 2:
// with more sign-ins than that in flight at once, each connection beyond
// the second was closed after its token request and the next callback
// dialled (and, for https, handshook) a new one.
const MaxIdleConnsPerHost = 32

// NewHTTPClient returns the client for provider requests: the default
// transport's settings (proxies from the environment, system TLS roots,
// the 90 s idle timeout) with MaxIdleConnsPerHost idle connections kept
// per provider host, and DefaultTimeout per request.
func NewHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	return &http.Client{Timeout: DefaultTimeout, Transport: tr}
}

// New returns the Upstream for c.Kind.
func New(c Config) (oidc.Upstream, error) {
	if c.HTTPClient == nil {
		c.HTTPClient = NewHTTPClient()
	}
	switch c.Kind {
	case oidc.KindGitHub, oidc.KindDiscord, oidc.KindFacebook:
		return newOAuth2(c)
	}
	issuer := c.IssuerURL
	if issuer == "" {
		switch c.Kind {
		case oidc.KindGoogle:
			issuer = "https://accounts.google.com"
		case oidc.KindMicrosoft:
			issuer = "https://login.microsoftonline.com/" + c.MicrosoftTenant + "/v2.0"
		case oidc.KindApple:
			issuer = "https://appleid.apple.com"
		case oidc.KindGitLab:
			issuer = "https://gitlab.com"
		case oidc.KindLinkedIn:
			issuer = "https://www.linkedin.com/oauth"
		case oidc.KindSlack:
			issuer = "https://slack.com"
		default:
			return nil, fmt.Errorf("upstream: provider kind %s needs issuer_url", c.Kind)
		}
	}
	u := &openID{c: c, issuer: strings.TrimSuffix(issuer, "/")}
	if c.Kind == oidc.KindApple && c.ClientSecret == "" {
		s, err := newAppleSecret(c)
		if err != nil {
			return nil, err
		}
		u.appleSecret = s
	}
	return u, nil
}

// openID is an OpenID Connect provider found by discovery.
type openID struct {
	c           Config
	issuer      string
	appleSecret *appleSecret

	mu   sync.Mutex // held while discovering
	disc atomic.Pointer[discovered]

	tokens tokenConfigs
}

// discovered is what discovery found, built once per provider: every
// sign-in after the first reads it without a lock.
type discovered struct {
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	pkce     bool
}

func (u *openID) ctx(ctx context.Context) context.Context {
	return gooidc.ClientContext(ctx, u.c.HTTPClient)
}

// tokenConfigs keeps the oauth2.Config of a provider's token requests, one
// per redirect URI, for as long as the upstream lives (a configuration
// reload builds new ones). The Config is where oauth2 remembers how the
// provider takes the client's credentials: it tries HTTP Basic
// authentication first and, when that is refused, the request body, and
// keeps the way that worked in the Config. A Config made per request
// forgot it, so a provider that takes them in the body only
// (client_secret_post; mockoidc, and per oauth2 Google) got two token
// requests at every sign-in, the first one refused.
type tokenConfigs struct {
	m sync.Map // redirect URI → *oauth2.Config
	n atomic.Int32
}

// maxTokenConfigs bounds tokenConfigs. The redirect URIs are the server's
// own (one per face), never a client's; past the bound a Config is made
// per request, as before.
const maxTokenConfigs = 16

// get returns the kept Config for redirectURI, or keeps the one build
// makes. A Config with another secret (Apple's client secret is a JWT
// renewed before it expires) is replaced, and with it what it remembered.
func (t *tokenConfigs) get(redirectURI, secret string, build func() *oauth2.Config) *oauth2.Config {
	k := redirectURI
	if v, ok := t.m.Load(k); ok {
		if c := v.(*oauth2.Config); c.ClientSecret == secret {
			return c
		}
		c := build()
		t.m.Store(k, c)
		return c
	}
	c := build()
	if t.n.Add(1) > maxTokenConfigs {
		t.n.Add(-1)
		return c
	}
	if v, loaded := t.m.LoadOrStore(k, c); loaded {
		t.n.Add(-1)
		return v.(*oauth2.Config)
	}
	return c
}

// multiTenant says whether the Microsoft tenant is one of the shared ones
// whose discovery document names the issuer with a {tenantid} placeholder.
func (u *openID) multiTenant() bool {
	return u.c.Kind == oidc.KindMicrosoft && (u.c.MicrosoftTenant == "common" || u.c.MicrosoftTenant == "organizations" || u.c.MicrosoftTenant == "consumers")
}

func (u *openID) discover(ctx context.Context) (*discovered, error) {
	if d := u.disc.Load(); d != nil {
		return d, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if d := u.disc.Load(); d != nil {
		return d, nil
	}
	dctx := u.ctx(ctx)
	if u.multiTenant() {
		dctx = gooidc.InsecureIssuerURLContext(dctx, "https://login.microsoftonline.com/{tenantid}/v2.0")
	}
	p, err := gooidc.NewProvider(dctx, u.issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", u.issuer, err)
	}
	d := &discovered{provider: p, verifier: p.Verifier(&gooidc.Config{ClientID: u.c.ClientID, SkipIssuerCheck: u.multiTenant()})}
	var meta struct {
		Methods []string `json:"code_challenge_methods_supported"`
	}
	if err := p.Claims(&meta); err == nil {
		for _, m := range meta.Methods {
			if m == "S256" {
				d.pkce = true
			}
		}
	}
	u.disc.Store(d)
	return d, nil
}

func (u *openID) oauth2Config(p *gooidc.Provider, redirectURI string, scope []string) (*oauth2.Config, error) {
	secret, err := u.secret()
	if err != nil {
		return nil, err
	}
	return u.newConfig(p, secret, redirectURI, scope), nil
}

func (u *openID) newConfig(p *gooidc.Provider, secret, redirectURI string, scope []string) *oauth2.Config {
	ep := p.Endpoint()
	if u.c.AuthURL != "" {
		ep.AuthURL = u.c.AuthURL
	}
	if u.c.TokenURL != "" {
		ep.TokenURL = u.c.TokenURL
	}
	return &oauth2.Config{ClientID: u.c.ClientID, ClientSecret: secret, Endpoint: ep, RedirectURL: redirectURI, Scopes: withOpenID(scope)}
}

// secret is the client secret: the configured one, or Apple's current JWT.
func (u *openID) secret() (string, error) {
	if u.appleSecret != nil {
		return u.appleSecret.get()
	}
	return u.c.ClientSecret, nil
}

func withOpenID(scope []string) []string {
	for _, s := range scope {
		if s == gooidc.ScopeOpenID {
			return scope
		}
	}
	return append([]string{gooidc.ScopeOpenID}, scope...)
}

func (u *openID) IssuesIDTokens() bool { return true }

func (u *openID) SupportsPKCE(ctx context.Context) bool {
	d, err := u.discover(ctx)
	return err == nil && d.pkce
}

func (u *openID) AuthURL(ctx context.Context, r oidc.AuthRequest) (string, error) {
	d, err := u.discover(ctx)
	if err != nil {
		return "", err
	}
	conf, err := u.oauth2Config(d.provider, r.RedirectURI, r.Scope)
	if err != nil {
		return "", err
	}
	opts := authOptions(r)
	if r.Nonce != "" {
		opts = append(opts, gooidc.Nonce(r.Nonce))
	}
	if u.c.Kind == oidc.KindApple {
		// Apple posts the answer back when name or email is asked for.
		opts = append(opts, oauth2.SetAuthURLParam("response_mode", "form_post"))
	}
	return conf.AuthCodeURL(r.State, opts...), nil
}

func authOptions(r oidc.AuthRequest) []oauth2.AuthCodeOption {
	var opts []oauth2.AuthCodeOption
	if r.CodeChallenge != "" {
		opts = append(opts, oauth2.SetAuthURLParam("code_challenge", r.CodeChallenge), oauth2.SetAuthURLParam("code_challenge_method", "S256"))
	}
	if len(r.Claims) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("claims", string(r.Claims)))
	}
	for k, v := range r.Params {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return opts
}

func (u *openID) Exchange(ctx context.Context, code, verifier, redirectURI string) (*oidc.Claims, *oidc.Tokens, error) {
	d, err := u.discover(ctx)
	if err != nil {
		return nil, nil, err
	}
	p := d.provider
	secret, err := u.secret()
	if err != nil {
		return nil, nil, err
	}
	conf := u.tokens.get(redirectURI, secret, func() *oauth2.Config { return u.newConfig(p, secret, redirectURI, nil) })
	var opts []oauth2.AuthCodeOption
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	hctx := context.WithValue(u.ctx(ctx), oauth2.HTTPClient, u.c.HTTPClient)
	tok, err := conf.Exchange(hctx, code, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("token endpoint: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, errors.New("the token response has no id_token")
	}
	claims, err := u.verify(hctx, d.verifier, raw)
	if err != nil {
		return nil, nil, err
	}
	if claims.Email == "" && p.UserInfoEndpoint() != "" {
		// Some providers leave the profile out of the ID token; the
		// userinfo answer counts only for the same subject (OIDC Core
		// §5.3.2).
		if ui, err := p.UserInfo(hctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == claims.Subject {
			var extra map[string]any
			if ui.Claims(&extra) == nil {
				for k, v := range extra {
					if _, ok := claims.Raw[k]; !ok {
						claims.Raw[k] = v
					}
				}
				fill(claims)
			}
		}
	}
	return claims, &oidc.Tokens{IDToken: raw, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}, nil
}

func (u *openID) VerifyIDToken(ctx context.Context, raw string) (*oidc.Claims, error) {
	d, err := u.discover(ctx)
	if err != nil {
		return nil, err
	}
	return u.verify(u.ctx(ctx), d.verifier, raw)
}

func (u *openID) verify(ctx context.Context, v *gooidc.IDTokenVerifier, raw string) (*oidc.Claims, error) {
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verify id_token: %w", err)
	}
	var m map[string]any
	if err := idt.Claims(&m); err != nil {
		return nil, fmt.Errorf("read id_token claims: %w", err)
	}
	if u.multiTenant() {
		tid, _ := m["tid"].(string)
		if tid == "" || idt.Issuer != "https://login.microsoftonline.com/"+tid+"/v2.0" {
			return nil, fmt.Errorf("verify id_token: issuer %q does not match its tenant", idt.Issuer)
		}
	}
	c := &oidc.Claims{Subject: idt.Subject, Nonce: idt.Nonce, Raw: m}
	fill(c)
	return c, nil
}

// fill sets the standard fields of c from its raw claims (OIDC Core §5.1).
func fill(c *oidc.Claims) {
	str := func(k string) string { s, _ := c.Raw[k].(string); return s }
	c.Email = str("email")
	switch v := c.Raw["email_verified"].(type) {
	case bool:
		c.EmailVerified = v
	case string: // some providers send "true"
		c.EmailVerified = v == "true"
	default:
		c.EmailVerified = false
	}
	c.Name = str("name")
	c.GivenName = str("given_name")
	c.FamilyName = str("family_name")
	c.Picture = str("picture")
}
