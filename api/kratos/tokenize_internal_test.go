package kratos

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
)

// TestTokenizerTemplatesAtStart: a template whose key set cannot be used,
// or that sets a claims mapper (not built yet), stops the start with the
// configuration key named — it is never accepted and ignored.
func TestTokenizerTemplatesAtStart(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		tpl  config.TokenizerTemplate
		want string
	}{
		"unreadable key set": {config.TokenizerTemplate{TTL: time.Minute, JWKSURL: "file:///nonexistent/jwks.json"},
			"session.whoami.tokenizer.templates.app.jwks_url: read the key set"},
		"no key set": {config.TokenizerTemplate{TTL: time.Minute},
			"session.whoami.tokenizer.templates.app.jwks_url: is required"},
		"claims mapper": {config.TokenizerTemplate{TTL: time.Minute, JWKSURL: "file:///nonexistent/jwks.json", ClaimsMapperURL: "base64://e30="},
			"session.whoami.tokenizer.templates.app.claims_mapper_url: not supported yet"},
	} {
		_, err := newTokenizer(config.Tokenizer{Templates: map[string]config.TokenizerTemplate{"app": tc.tpl}}, "https://id.example.com/", time.Now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want …%s…", name, err, tc.want)
		}
	}
	if tz, err := newTokenizer(config.Tokenizer{}, "https://id.example.com/", time.Now); tz != nil || err != nil {
		t.Errorf("no templates: %v, %v", tz, err)
	}
}
