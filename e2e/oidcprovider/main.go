// Command oidcprovider is the local OpenID Connect provider of the browser
// suites (e2e/run.sh builds and starts it): github.com/oauth2-proxy/mockoidc
// behind a sign-in page, holding its clients to what a real provider
// demands. The authorization endpoint refuses a request without PKCE
// (code_challenge with S256), without a nonce, or with a redirect_uri that
// is not registered; the token endpoint checks the code_verifier, the
// client and the code; ID tokens carry the nonce and are signed with the
// provider's RSA key (JWKS at /oidc/.well-known/jwks.json).
//
// GET /oidc/authorize shows a page where the person types the e-mail
// address to sign in as (and whether the provider vouches for it); the
// subject is derived from the address, so the same address is the same
// provider account every time. POST answers as mockoidc does: 302 to the
// redirect_uri with code and state.
//
// Usage: oidcprovider -addr 127.0.0.1:PORT -client-id ID -client-secret SECRET -redirect-uris URI[,URI...]
//
// The issuer is http://<addr>/oidc. It prints "ready <issuer>" when it
// listens and stops on SIGTERM or SIGINT.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/oauth2-proxy/mockoidc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	clientID := flag.String("client-id", "latchkey-e2e", "the one client's id")
	clientSecret := flag.String("client-secret", "latchkey-e2e-secret", "the one client's secret")
	redirects := flag.String("redirect-uris", "", "the client's registered redirect URIs, comma-separated (required)")
	flag.Parse()
	uris := strings.Split(*redirects, ",")
	if *redirects == "" {
		log.Fatal("oidcprovider: -redirect-uris is required")
	}
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	m.ClientID, m.ClientSecret = *clientID, *clientSecret
	m.CodeChallengeMethodsSupported = []string{"S256"}
	var mu sync.Mutex // one queued user per authorization
	if err := m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != mockoidc.AuthorizationEndpoint {
				next.ServeHTTP(w, r)
				return
			}
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			if problem := checkAuthorize(r, uris); problem != "" {
				log.Printf("oidcprovider: authorization refused: %s", problem)
				http.Error(w, "authorization refused: "+problem, http.StatusBadRequest)
				return
			}
			if r.Method != http.MethodPost {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_ = page.Execute(w, r.Form)
				return
			}
			email := strings.ToLower(strings.TrimSpace(r.PostForm.Get("email")))
			if !strings.Contains(email, "@") {
				http.Error(w, "type an e-mail address", http.StatusBadRequest)
				return
			}
			sum := sha256.Sum256([]byte(email))
			mu.Lock()
			defer mu.Unlock()
			m.QueueUser(&mockoidc.MockUser{Subject: "e2e-" + hex.EncodeToString(sum[:8]), Email: email,
				EmailVerified: r.PostForm.Get("email_verified") == "true", PreferredUsername: strings.Split(email, "@")[0]})
			next.ServeHTTP(w, r)
		})
	}); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready", m.Issuer())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	_ = m.Server.Shutdown(context.Background())
}

// checkAuthorize returns why an authorization request is refused, or "".
// mockoidc itself checks the client, scope (openid), response_type and the
// challenge method; these are the checks it leaves optional.
func checkAuthorize(r *http.Request, uris []string) string {
	switch f := r.Form; {
	case !slices.Contains(uris, f.Get("redirect_uri")):
		return fmt.Sprintf("redirect_uri %q is not registered", f.Get("redirect_uri"))
	case f.Get("code_challenge") == "" || f.Get("code_challenge_method") != "S256":
		return "PKCE is required (code_challenge with code_challenge_method=S256)"
	case f.Get("nonce") == "":
		return "a nonce is required"
	case f.Get("state") == "":
		return "a state is required"
	}
	return ""
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>E2E provider: sign in</title>
<style>body{font-family:sans-serif;max-width:24rem;margin:3rem auto}label{display:block;margin:.5rem 0}</style></head>
<body><h1>E2E provider</h1>
<form method="post">
{{range $k, $v := .}}{{if and (ne $k "email") (ne $k "email_verified")}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}{{end}}
<label>E-mail address <input type="email" name="email" autocomplete="email" required></label>
<label><input type="checkbox" name="email_verified" value="true" checked> The provider has verified this address</label>
<button type="submit">Continue</button>
</form></body></html>
`))
