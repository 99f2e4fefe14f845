package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/oauth2-proxy/mockoidc"
)

// The OpenID Connect client the bench's provider knows. Not a secret: the
// provider runs in the bench process on a loopback address for the length
// of the scenario and signs in one fixed test user.
const (
	oidcClientID     = "latchkey-bench"
	oidcClientSecret = "latchkey-bench-not-a-secret"
)

// OIDCServerConfig returns the environment that configures a Latchkey
// server with the bench's OIDC provider (provider id at addr), for
// oidc-login.
func OIDCServerConfig(addr, id string) string {
	providers, _ := json.Marshal([]map[string]any{{"id": id, "provider": "generic", "label": "Bench", "client_id": oidcClientID,
		"client_secret": oidcClientSecret, "issuer_url": "http://" + addr + "/oidc", "scope": []string{"openid", "email", "profile"}}})
	return "LATCHKEY_SELFSERVICE_METHODS_OIDC_ENABLED=true LATCHKEY_SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS='" + string(providers) + "'"
}

// startOIDCProvider runs mockoidc on addr with the bench's client. mockoidc
// keeps its sessions in a map without a lock, so its requests are served
// one at a time: the provider's latency is part of an op's, its CPU is the
// bench's, not the server's.
func startOIDCProvider(addr string) (*mockoidc.MockOIDC, error) {
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	m.ClientID, m.ClientSecret = oidcClientID, oidcClientSecret
	var mu sync.Mutex
	if err := m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}); err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: listen on %s (--oidc-provider): %w", addr, err)
	}
	if err := m.Start(ln, nil); err != nil {
		ln.Close()
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	return m, nil
}

// oidcFlow is what oidc-login reads from a browser login flow.
type oidcFlow struct {
	ID string `json:"id"`
	UI struct {
		Nodes []struct {
			Group      string `json:"group"`
			Attributes struct {
				Name  string `json:"name"`
				Value any    `json:"value"`
			} `json:"attributes"`
		} `json:"nodes"`
	} `json:"ui"`
}

func (f *oidcFlow) value(name string) (string, bool) {
	for _, n := range f.UI.Nodes {
		if n.Attributes.Name == name {
			s, ok := n.Attributes.Value.(string)
			return s, ok
		}
	}
	return "", false
}

func (f *oidcFlow) offers(provider string) bool {
	for _, n := range f.UI.Nodes {
		if n.Group == "oidc" && n.Attributes.Name == "provider" && n.Attributes.Value == provider {
			return true
		}
	}
	return false
}

// oidcLoginOnce signs in with the bench's provider as a new browser:
// GET /self-service/login/browser (JSON: the flow and the anti-CSRF
// cookie), POST the flow with method=oidc, follow the 303 to the
// provider's authorization endpoint, whose 302 leads to the server's
// callback (the server redeems the code at the provider's token endpoint
// and verifies the RS256 ID token), which answers 303 with the session
// cookie. It returns the flow for the first step when only is true.
func (r *Runner) oidcLoginOnce(ctx context.Context, provider string, only bool) (*oidcFlow, error) {
	pub, _ := url.Parse(r.public) // checked by New
	hc := r.browser(func(req *http.Request) bool {
		return req.URL.Host == pub.Host && !strings.HasPrefix(req.URL.Path, "/self-service/methods/oidc/callback/")
	})
	init, err := http.NewRequestWithContext(ctx, http.MethodGet, r.public+"/self-service/login/browser", nil)
	if err != nil {
		return nil, err
	}
	init.Header.Set("Accept", "application/json")
	resp, err := hc.Do(init)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Method: http.MethodGet, URL: init.URL.String(), Status: resp.StatusCode, Body: snippet(body)}
	}
	var flow oidcFlow
	if err := json.Unmarshal(body, &flow); err != nil {
		return nil, fmt.Errorf("GET %s: the answer is not a flow: %w", init.URL, err)
	}
	if only {
		return &flow, nil
	}
	csrf, _ := flow.value("csrf_token")
	form := url.Values{"csrf_token": {csrf}, "method": {"oidc"}, "provider": {provider}}
	submitURL := r.public + "/self-service/login?flow=" + url.QueryEscape(flow.ID)
	submit, err := http.NewRequestWithContext(ctx, http.MethodPost, submitURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	submit.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	submit.Header.Set("Accept", "text/html")
	if resp, err = hc.Do(submit); err != nil {
		return nil, err
	}
	body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	last := resp.Request.URL
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(last.Path, "/self-service/methods/oidc/callback/") {
		return nil, &StatusError{Method: resp.Request.Method, URL: last.String(), Status: resp.StatusCode, Body: snippet(body)}
	}
	for _, c := range resp.Cookies() {
		if c.Name == r.o.SessionCookie && c.Value != "" {
			return &flow, nil
		}
	}
	return nil, fmt.Errorf("GET %s: no %s cookie; redirected to %s", last.Path, r.o.SessionCookie, resp.Header.Get("Location"))
}

func (r *Runner) oidcLogin(ctx context.Context) ([]Result, error) {
	addr, id := r.o.OIDCProviderAddr, r.o.OIDCProviderID
	flow, err := r.oidcLoginOnce(ctx, id, true)
	if err != nil {
		return nil, skipIfMissing("Kratos browser login", err)
	}
	if !flow.offers(id) {
		return nil, &SkipError{Reason: fmt.Sprintf("the login flow offers no OIDC provider %q: start the server with %s "+
			"(oidc-login runs that provider at %s, --oidc-provider)", id, OIDCServerConfig(addr, id), addr)}
	}
	m, err := startOIDCProvider(addr)
	if err != nil {
		return nil, err
	}
	defer m.Shutdown()
	// The first sign-in of the provider's user registers it.
	if _, err := r.oidcLoginOnce(ctx, id, false); err != nil {
		return nil, fmt.Errorf("first sign-in: %w", err)
	}
	res, err := r.measure(ctx, "oidc-login",
		fmt.Sprintf("one identity (the provider's user); a new browser per op: GET /self-service/login/browser, POST method=oidc → provider %s (in the bench, not counted) → GET the callback (the server POSTs the provider's token endpoint) → 303 with the session cookie", addr),
		r.serverPID(), "server", 1, func(ctx context.Context, _ int, _ int64) error {
			_, err := r.oidcLoginOnce(ctx, id, false)
			return err
		})
	res.Crypto = "server: one RS256 ID token signature verify (the provider's keys fetched once), a random state, nonce and PKCE verifier generated and the state's hash and the S256 challenge checked, no password hash; provider (bench, not counted): RS256 signing of the ID and access tokens"
	return []Result{res}, err
}
