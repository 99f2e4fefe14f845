package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
)

// Finder looks identities up (store.Tx).
type Finder interface {
	FindIdentityByIdentifier(ctx context.Context, t core.CredentialType, identifier string) (*core.Identity, error)
	FindIdentityByAddress(ctx context.Context, via core.AddressVia, value string) (*core.Identity, error)
}

// Outcome is what a provider sign-in leads to.
type Outcome int

// The outcomes of Resolve.
const (
	// SignIn: the (provider, subject) is linked to Identity.
	SignIn Outcome = iota + 1
	// SignUp: nobody has the link nor the addresses; create an identity.
	SignUp
	// Link: the provider's verified e-mail is a verified address of
	// Identity and the provider allows linking; link, then sign in.
	Link
	// Conflict: an address the sign-up would use belongs to Identity and
	// linking is not allowed (or not proven safe). The user must prove the
	// existing account first; nothing may be signed in or linked.
	Conflict
)

// Resolution is the answer of Resolve.
type Resolution struct {
	Outcome  Outcome
	Identity *core.Identity // the existing identity (SignIn, Link, Conflict)
	Address  string         // the address in conflict (Link, Conflict)
}

// Identifier is the oidc credential identifier of a provider subject.
func Identifier(providerID, subject string) string { return providerID + ":" + subject }

// Resolve decides what a sign-in with verified claims leads to (the
// package's linking rules). emails are the addresses the new identity
// would get (from the mapped traits); the provider's own e-mail is checked
// too. notFound is the store's not-found error.
func Resolve(ctx context.Context, f Finder, notFound error, p *Provider, c *Claims, emails []string) (*Resolution, error) {
	i, err := f.FindIdentityByIdentifier(ctx, core.CredentialOIDC, Identifier(p.ID, c.Subject))
	switch {
	case err == nil:
		return &Resolution{Outcome: SignIn, Identity: i}, nil
	case !errors.Is(err, notFound):
		return nil, fmt.Errorf("oidc: find linked identity: %w", err)
	}
	all := append([]string{}, emails...)
	if c.Email != "" {
		all = append(all, c.Email)
	}
	verified := ""
	if c.EmailVerified && c.Email != "" {
		verified = NormalizeEmail(c.Email)
	}
	for _, e := range all {
		addr := NormalizeEmail(e)
		if addr == "" {
			continue
		}
		i, err := f.FindIdentityByAddress(ctx, core.ViaEmail, addr)
		if errors.Is(err, notFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("oidc: find identity by address: %w", err)
		}
		if p.AllowLinking && addr == verified && addressVerified(i, addr) {
			return &Resolution{Outcome: Link, Identity: i, Address: addr}, nil
		}
		return &Resolution{Outcome: Conflict, Identity: i, Address: addr}, nil
	}
	return &Resolution{Outcome: SignUp}, nil
}

func addressVerified(i *core.Identity, addr string) bool {
	for _, a := range i.Addresses {
		if a.Via == core.ViaEmail && a.Value == addr {
			return a.Verified
		}
	}
	return false
}

// Credential returns the link of the identity to (provider, subject) with
// the tokens encrypted (base64 of cipher text bound to the link).
func (m *Method) Credential(p *Provider, c *Claims, t *Tokens) (identity.OIDCProvider, error) {
	op := identity.OIDCProvider{Provider: p.ID, Subject: c.Subject}
	if t == nil {
		return op, nil
	}
	var err error
	seal := func(dst *string, v string) {
		if err != nil || v == "" {
			return
		}
		var ct []byte
		ct, err = m.sealer.Encrypt([]byte(v), tokenAAD(op))
		*dst = base64.StdEncoding.EncodeToString(ct)
	}
	seal(&op.InitialIDToken, t.IDToken)
	seal(&op.InitialAccessToken, t.AccessToken)
	seal(&op.InitialRefreshToken, t.RefreshToken)
	if err != nil {
		return identity.OIDCProvider{}, &core.Error{Code: core.CodeInternal, Message: "An internal error occurred.", Cause: fmt.Errorf("oidc: encrypt tokens: %w", err)}
	}
	return op, nil
}

// Reveal returns op with its tokens decrypted, for the admin API's
// include_credential=oidc. A token that does not decrypt (made under a
// removed secret, or imported in clear) becomes "", as in Kratos.
func (m *Method) Reveal(op identity.OIDCProvider) identity.OIDCProvider {
	open := func(v string) string {
		if v == "" {
			return ""
		}
		ct, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return ""
		}
		pt, err := m.sealer.Decrypt(ct, tokenAAD(op))
		if err != nil {
			return ""
		}
		return string(pt)
	}
	op.InitialIDToken = open(op.InitialIDToken)
	op.InitialAccessToken = open(op.InitialAccessToken)
	op.InitialRefreshToken = open(op.InitialRefreshToken)
	return op
}

// RevealConfig decrypts every token of a stored oidc credential config.
func (m *Method) RevealConfig(raw json.RawMessage) (json.RawMessage, error) {
	var cfg identity.OIDCConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("oidc: decode credential config: %w", err)
	}
	for n := range cfg.Providers {
		cfg.Providers[n] = m.Reveal(cfg.Providers[n])
	}
	return json.Marshal(cfg)
}

func tokenAAD(op identity.OIDCProvider) []byte { return TokenAAD(op.Provider, op.Subject) }

// TokenAAD is the additional data a link's tokens are sealed with: a token
// copied into another link does not decrypt.
func TokenAAD(provider, subject string) []byte {
	return []byte("latchkey oidc token " + Identifier(provider, subject))
}

// AddLink returns the identity's oidc credential config with op added (or
// replacing the link to the same provider and subject), and the
// credential's identifiers.
func AddLink(i *core.Identity, op identity.OIDCProvider) (json.RawMessage, []string, error) {
	cfg, err := Links(i)
	if err != nil {
		return nil, nil, err
	}
	kept := cfg.Providers[:0]
	for _, x := range cfg.Providers {
		if x.Provider != op.Provider || x.Subject != op.Subject {
			kept = append(kept, x)
		}
	}
	cfg.Providers = append(kept, op)
	ids := make([]string, len(cfg.Providers))
	for n, x := range cfg.Providers {
		ids[n] = Identifier(x.Provider, x.Subject)
	}
	raw, err := json.Marshal(cfg)
	return raw, ids, err
}

// Links returns the identity's provider links.
func Links(i *core.Identity) (identity.OIDCConfig, error) {
	var cfg identity.OIDCConfig
	if c, ok := i.Credential(core.CredentialOIDC); ok && len(c.Config) > 0 {
		if err := json.Unmarshal(c.Config, &cfg); err != nil {
			return cfg, &core.Error{Code: core.CodeInternal, Message: "An internal error occurred.", Cause: fmt.Errorf("oidc: decode credential config: %w", err)}
		}
	}
	return cfg, nil
}
