package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
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
func buildOIDC(ctx context.Context, cfg config.OIDCConfig, hanko config.HankoThirdParty, c *cipher.Cipher) (*oidc.Method, error) {
	client := &http.Client{Timeout: 10 * time.Second}
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
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", fmt.Errorf("%q has no scheme: use file://, base64:// or https://", redactURL(raw))
	}
	var body []byte
	switch strings.ToLower(scheme) {
	case "file":
		f, err := os.Open(rest)
		if err != nil {
			return "", fmt.Errorf("read mapper: %w", err)
		}
		defer f.Close()
		if body, err = io.ReadAll(io.LimitReader(f, maxMapperSize+1)); err != nil {
			return "", fmt.Errorf("read mapper: %w", err)
		}
	case "base64":
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if body, err = enc.DecodeString(strings.TrimSpace(rest)); err == nil {
				break
			}
		}
		if err != nil {
			return "", fmt.Errorf("base64:// mapper is not valid base64")
		}
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("fetch mapper: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("fetch mapper: status %d", resp.StatusCode)
		}
		if body, err = io.ReadAll(io.LimitReader(resp.Body, maxMapperSize+1)); err != nil {
			return "", fmt.Errorf("fetch mapper: %w", err)
		}
	default:
		return "", fmt.Errorf("unsupported scheme %q: use file://, base64:// or https://", scheme)
	}
	if len(body) > maxMapperSize {
		return "", fmt.Errorf("the mapper is larger than %d bytes", maxMapperSize)
	}
	return string(body), nil
}

func redactURL(u string) string {
	if strings.HasPrefix(strings.ToLower(u), "base64://") && len(u) > 40 {
		return u[:40] + "…"
	}
	return u
}
