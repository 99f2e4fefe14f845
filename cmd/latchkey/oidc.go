package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/fetch"
	"github.com/latchkey/latchkey/jsonnet"
	"github.com/latchkey/latchkey/method/oidc"
	"github.com/latchkey/latchkey/upstream"
)

// maxMapperSize caps a Jsonnet mapper file.
const maxMapperSize = 1 << 20

// buildOIDC builds third-party sign-in from selfservice.methods.oidc (into
// which hanko.third_party's providers were merged; allow_linking comes from
// there): one
// upstream per provider (discovery happens at the first sign-in), the
// mappers loaded now (a mapper that cannot be read stops the start).
//
// client makes every call to the providers (discovery, token, userinfo,
// mapper fetches); cmd wires one that records a client span per request.
func buildOIDC(ctx context.Context, cfg config.OIDCConfig, hanko config.HankoThirdParty, c *cipher.Cipher, client *http.Client) (*oidc.Method, error) {
	var ev *jsonnet.Evaluator
	var ps []*oidc.Provider
	for i, pc := range cfg.Providers {
		key := fmt.Sprintf("selfservice.methods.oidc.config.providers[%d]", i)
		up, err := upstream.New(upstream.Config{Kind: pc.Provider, ClientID: pc.ClientID, ClientSecret: pc.ClientSecret,
			IssuerURL: pc.IssuerURL, AuthURL: pc.AuthURL, TokenURL: pc.TokenURL, MicrosoftTenant: pc.MicrosoftTenant,
			AppleTeamID: pc.AppleTeamID, ApplePrivateKeyID: pc.ApplePrivateKeyID, ApplePrivateKey: pc.ApplePrivateKey,
			HTTPClient: client})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		p := &oidc.Provider{ID: pc.ID, Kind: pc.Provider, Label: pc.Label, Scope: pc.Scope, PKCE: pc.PKCE, Upstream: up,
			AllowLinking: hanko.AllowLinking(pc.ID)}
		if len(pc.RequestedClaims) > 0 {
			raw, err := json.Marshal(pc.RequestedClaims)
			if err != nil {
				return nil, fmt.Errorf("%s.requested_claims: %w", key, err)
			}
			p.Claims = raw
		}
		if pc.MapperURL != "" {
			code, err := loadMapper(ctx, client, pc.MapperURL)
			if err != nil {
				return nil, fmt.Errorf("%s.mapper_url: %w", key, err)
			}
			p.Mapper, p.MapperID = code, redactURL(pc.MapperURL)
			if ev == nil {
				if ev, err = jsonnet.New(jsonnet.Options{}); err != nil {
					return nil, err
				}
			}
		}
		ps = append(ps, p)
	}
	cf := oidc.Config{Providers: ps, Sealer: c}
	if ev != nil {
		cf.Mapper = ev
	}
	return oidc.New(cf)
}

// loadMapper reads a Jsonnet mapper from file://, base64:// or http(s)://.
func loadMapper(ctx context.Context, client *http.Client, raw string) (string, error) {
	b, err := fetch.Get(ctx, client, raw, maxMapperSize)
	if err != nil {
		return "", fmt.Errorf("read mapper: %w", err)
	}
	return string(b), nil
}

func redactURL(u string) string { return fetch.Redact(u) }
