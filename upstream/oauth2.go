package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/method/oidc"
)

// maxAPIBody caps what a provider's API may answer.
const maxAPIBody = 1 << 20

// plain is a provider that speaks OAuth2 but not OpenID Connect: the user
// comes from its API, called with the access token.
type plain struct {
	c    Config
	conf oauth2.Config
	api  string
	// user asks the API for the user behind the access token.
	user func(ctx context.Context, u *plain, token string) (*oidc.Claims, error)

	tokens tokenConfigs
}

func newOAuth2(c Config) (*plain, error) {
	u := &plain{c: c}
	var ep oauth2.Endpoint
	switch c.Kind {
	case oidc.KindGitHub:
		ep = oauth2.Endpoint{AuthURL: "https://github.com/login/oauth/authorize", TokenURL: "https://github.com/login/oauth/access_token"}
		u.api, u.user = "https://api.github.com", githubUser
	case oidc.KindDiscord:
		ep = oauth2.Endpoint{AuthURL: "https://discord.com/oauth2/authorize", TokenURL: "https://discord.com/api/oauth2/token"}
		u.api, u.user = "https://discord.com/api", discordUser
	case oidc.KindFacebook:
		ep = oauth2.Endpoint{AuthURL: "https://www.facebook.com/v19.0/dialog/oauth", TokenURL: "https://graph.facebook.com/v19.0/oauth/access_token"}
		u.api, u.user = "https://graph.facebook.com/v19.0", facebookUser
	default:
		return nil, fmt.Errorf("upstream: %s is not a plain OAuth2 provider", c.Kind)
	}
	if c.AuthURL != "" {
		ep.AuthURL = c.AuthURL
	}
	if c.TokenURL != "" {
		ep.TokenURL = c.TokenURL
	}
	if c.APIURL != "" {
		u.api = strings.TrimSuffix(c.APIURL, "/")
	}
	u.conf = oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: ep}
	return u, nil
}

func (u *plain) IssuesIDTokens() bool                  { return false }
func (u *plain) SupportsPKCE(ctx context.Context) bool { return false }

func (u *plain) config(redirectURI string, scope []string) *oauth2.Config {
	c := u.conf
	c.RedirectURL, c.Scopes = redirectURI, scope
	return &c
}

func (u *plain) AuthURL(_ context.Context, r oidc.AuthRequest) (string, error) {
	return u.config(r.RedirectURI, r.Scope).AuthCodeURL(r.State, authOptions(r)...), nil
}

func (u *plain) Exchange(ctx context.Context, code, verifier, redirectURI string) (*oidc.Claims, *oidc.Tokens, error) {
	var opts []oauth2.AuthCodeOption
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, u.c.HTTPClient)
	conf := u.tokens.get(redirectURI, u.c.ClientSecret, func() *oauth2.Config { return u.config(redirectURI, nil) })
	tok, err := conf.Exchange(hctx, code, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("token endpoint: %w", err)
	}
	claims, err := u.user(ctx, u, tok.AccessToken)
	if err != nil {
		return nil, nil, err
	}
	return claims, &oidc.Tokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}, nil
}

func (u *plain) VerifyIDToken(context.Context, string) (*oidc.Claims, error) {
	return nil, errors.New("this provider issues no ID tokens")
}

// get calls the API at path with the access token and decodes the answer.
func (u *plain) get(ctx context.Context, path, token string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.api+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := u.c.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// rawOf returns v's fields as a claims map.
func rawOf(v any) map[string]any {
	b, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return m
}

// githubUser reads GET /user and, for the verified address, GET
// /user/emails (GitHub's profile e-mail says nothing about verification).
func githubUser(ctx context.Context, u *plain, token string) (*oidc.Claims, error) {
	var user map[string]any
	if err := u.get(ctx, "/user", token, &user); err != nil {
		return nil, err
	}
	id, ok := user["id"].(float64)
	if !ok || id <= 0 {
		return nil, errors.New("GET /user: no numeric id")
	}
	str := func(k string) string { s, _ := user[k].(string); return s }
	c := &oidc.Claims{Subject: strconv.FormatInt(int64(id), 10), Name: str("name"), Picture: str("avatar_url"), Email: str("email"), Raw: user}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := u.get(ctx, "/user/emails", token, &emails); err == nil {
		for _, e := range emails {
			if e.Primary && e.Verified {
				c.Email, c.EmailVerified = e.Email, true
			}
		}
	}
	c.Raw["sub"] = c.Subject
	c.Raw["email"] = c.Email
	c.Raw["email_verified"] = c.EmailVerified
	return c, nil
}

// discordUser reads GET /users/@me.
func discordUser(ctx context.Context, u *plain, token string) (*oidc.Claims, error) {
	var user struct {
		ID         string `json:"id"`
		Username   string `json:"username"`
		GlobalName string `json:"global_name"`
		Email      string `json:"email"`
		Verified   bool   `json:"verified"`
		Avatar     string `json:"avatar"`
	}
	if err := u.get(ctx, "/users/@me", token, &user); err != nil {
		return nil, err
	}
	c := &oidc.Claims{Subject: user.ID, Email: user.Email, EmailVerified: user.Verified && user.Email != "", Name: user.GlobalName, Raw: rawOf(user)}
	if c.Name == "" {
		c.Name = user.Username
	}
	if user.Avatar != "" {
		c.Picture = "https://cdn.discordapp.com/avatars/" + url.PathEscape(user.ID) + "/" + url.PathEscape(user.Avatar) + ".png"
	}
	c.Raw["sub"] = c.Subject
	return c, nil
}

// facebookUser reads GET /me. Facebook does not say whether the e-mail was
// verified, so it is taken as unverified: it never links an account.
func facebookUser(ctx context.Context, u *plain, token string) (*oidc.Claims, error) {
	var user struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Email     string `json:"email"`
	}
	if err := u.get(ctx, "/me?fields=id,name,first_name,last_name,email", token, &user); err != nil {
		return nil, err
	}
	c := &oidc.Claims{Subject: user.ID, Email: user.Email, Name: user.Name, GivenName: user.FirstName, FamilyName: user.LastName, Raw: rawOf(user)}
	c.Raw["sub"] = c.Subject
	return c, nil
}
