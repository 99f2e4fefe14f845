package kratos

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
)

// TestTokenizerTemplatesAtStart: a template whose key set cannot be read
// (an unreachable https:// one too), or whose claims mapper has nothing to
// run it, stops the start with the configuration key named — it is never
// accepted and ignored.
func TestTokenizerTemplatesAtStart(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: the key set cannot be fetched.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for name, tc := range map[string]struct {
		tpl  config.TokenizerTemplate
		want string
	}{
		"unreadable key set": {config.TokenizerTemplate{TTL: time.Minute, JWKSURL: "file:///nonexistent/jwks.json"},
			"session.whoami.tokenizer.templates.app.jwks_url: read the key set"},
		"no key set": {config.TokenizerTemplate{TTL: time.Minute},
			"session.whoami.tokenizer.templates.app.jwks_url: is required"},
		"claims mapper without an evaluator": {config.TokenizerTemplate{TTL: time.Minute, JWKSURL: "file:///nonexistent/jwks.json", ClaimsMapperURL: "base64://e30="},
			"session.whoami.tokenizer.templates.app.claims_mapper_url: no Jsonnet evaluator"},
		"unreachable https key set": {config.TokenizerTemplate{TTL: time.Minute, JWKSURL: "https://" + closed + "/jwks.json"},
			"session.whoami.tokenizer.templates.app.jwks_url: fetch https://"},
	} {
		_, err := newTokenizer(config.Tokenizer{Templates: map[string]config.TokenizerTemplate{"app": tc.tpl}}, "https://id.example.com/", time.Now, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want …%s…", name, err, tc.want)
		}
	}
	if tz, err := newTokenizer(config.Tokenizer{}, "https://id.example.com/", time.Now, nil, nil); tz != nil || err != nil {
		t.Errorf("no templates: %v, %v", tz, err)
	}
}
