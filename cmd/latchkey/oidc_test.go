package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
)

func TestBuildOIDC(t *testing.T) {
	t.Parallel()
	c, err := cipher.New(strings.Repeat("c", 32))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "mapper.jsonnet")
	if err := os.WriteFile(file, []byte(`{identity: {traits: {}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b64 := "base64://" + base64.StdEncoding.EncodeToString([]byte(`{identity: {traits: {}}}`))
	good := []config.OIDCProvider{
		{ID: "corp", Provider: "generic", ClientID: "c", ClientSecret: "s", IssuerURL: "https://idp.example.com", PKCE: "auto", MapperURL: "file://" + file},
		{ID: "google", Provider: "google", ClientID: "c", ClientSecret: "s", PKCE: "force", MapperURL: b64,
			RequestedClaims: map[string]any{"id_token": map[string]any{"email": nil}}},
		{ID: "github", Provider: "github", ClientID: "c", ClientSecret: "s", PKCE: "never"},
	}
	m, err := buildOIDC(context.Background(), config.OIDCConfig{Providers: good}, config.HankoThirdParty{Providers: map[string]config.HankoProvider{"github": {Enabled: true, AllowLinking: true}}}, c, &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Providers()[2].AllowLinking || m.Providers()[0].AllowLinking {
		t.Fatal("allow_linking not taken from hanko.third_party")
	}
	if len(m.Providers()) != 3 || m.Providers()[0].Mapper == "" || m.Providers()[1].Mapper == "" || string(m.Providers()[1].Claims) != `{"id_token":{"email":null}}` {
		t.Fatalf("providers %+v", m.Providers())
	}
	for name, p := range map[string]config.OIDCProvider{
		"missing mapper file": {ID: "x", Provider: "generic", ClientID: "c", ClientSecret: "s", IssuerURL: "https://idp.example.com", PKCE: "auto", MapperURL: "file:///nonexistent/m.jsonnet"},
		"bad base64 mapper":   {ID: "x", Provider: "generic", ClientID: "c", ClientSecret: "s", IssuerURL: "https://idp.example.com", PKCE: "auto", MapperURL: "base64://!!!"},
		"apple key":           {ID: "x", Provider: "apple", ClientID: "c", AppleTeamID: "t", ApplePrivateKeyID: "k", ApplePrivateKey: "nope", PKCE: "auto"},
	} {
		if _, err := buildOIDC(context.Background(), config.OIDCConfig{Providers: []config.OIDCProvider{p}}, config.HankoThirdParty{}, c, &http.Client{}); err == nil || !strings.Contains(err.Error(), "providers[0]") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
