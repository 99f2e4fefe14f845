package oidc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/latchkey/latchkey/core"
)

// Sealer encrypts provider tokens at rest and the pending round trips
// browsers carry (cipher.Cipher).
type Sealer interface {
	Encrypt(plaintext, aad []byte) ([]byte, error)
	Decrypt(ciphertext, aad []byte) ([]byte, error)
}

// Evaluator runs Jsonnet mappers (jsonnet.Evaluator).
type Evaluator interface {
	Evaluate(ctx context.Context, name, code string, vars map[string]json.RawMessage) (json.RawMessage, error)
}

// Config builds a Method.
type Config struct {
	Providers []*Provider
	Sealer    Sealer    // required: provider tokens are never stored in clear
	Mapper    Evaluator // required when a provider has a Jsonnet mapper
	Rand      io.Reader // nil means crypto/rand
}

// Method is third-party sign-in over the configured providers. It is safe
// for concurrent use.
type Method struct {
	providers []*Provider
	sealer    Sealer
	mapper    Evaluator
	rand      io.Reader
}

// New checks the providers (unique ids, known kinds, an Upstream each) and
// returns the Method.
func New(c Config) (*Method, error) {
	if c.Sealer == nil {
		return nil, errors.New("oidc: a Sealer is required to store provider tokens")
	}
	seen := map[string]bool{}
	for i, p := range c.Providers {
		switch {
		case p.ID == "":
			return nil, fmt.Errorf("oidc: provider %d has no id", i)
		case seen[p.ID]:
			return nil, fmt.Errorf("oidc: provider id %q is used twice", p.ID)
		case !slices.Contains(Kinds, p.Kind):
			return nil, fmt.Errorf("oidc: provider %q: kind %q is not one of %v", p.ID, p.Kind, Kinds)
		case p.Upstream == nil:
			return nil, fmt.Errorf("oidc: provider %q has no upstream", p.ID)
		case p.Mapper != "" && c.Mapper == nil:
			return nil, fmt.Errorf("oidc: provider %q has a Jsonnet mapper but no evaluator is configured", p.ID)
		}
		if !slices.Contains([]string{PKCEAuto, PKCEForce, PKCENever}, p.PKCE) {
			return nil, fmt.Errorf("oidc: provider %q: pkce %q is not one of auto, force, never", p.ID, p.PKCE)
		}
		seen[p.ID] = true
	}
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	return &Method{providers: c.Providers, sealer: c.Sealer, mapper: c.Mapper, rand: r}, nil
}

// Providers returns the providers in configuration order.
func (m *Method) Providers() []*Provider { return m.providers }

// Provider returns the provider with the id, or a CodeNotFound error.
func (m *Method) Provider(id string) (*Provider, error) {
	for _, p := range m.providers {
		if p.ID == id {
			return p, nil
		}
	}
	return nil, &core.Error{Code: core.CodeNotFound, Field: "provider",
		Message: fmt.Sprintf("Unable to find OpenID Connect provider %q: it is not configured.", id)}
}

// ProviderByHankoName returns the provider the Hanko face offers as name
// (HankoName), or a CodeNotFound error.
func (m *Method) ProviderByHankoName(name string) (*Provider, error) {
	for _, p := range m.providers {
		if p.HankoName() == name {
			return p, nil
		}
	}
	return nil, &core.Error{Code: core.CodeNotFound, Field: "provider",
		Message: fmt.Sprintf("The provider %q is not configured.", name)}
}
