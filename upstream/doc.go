// Package upstream is the HTTP side of third-party sign-in: it implements
// method/oidc's Upstream for each provider kind. OpenID Connect providers
// are found by discovery (OIDC Discovery §4) with
// github.com/coreos/go-oidc/v3, which verifies ID tokens (signature against
// the provider's JWKS, issuer, audience, expiry; OIDC Core §3.1.3.7);
// golang.org/x/oauth2 runs the authorization-code grant (RFC 6749 §4.1)
// with PKCE (RFC 7636). Plain OAuth2 providers (GitHub, Discord, Facebook)
// are asked for the user at their API.
//
// Discovery happens on first use, not at start-up, so a provider that is
// down does not stop the server; a failed discovery is retried on the next
// sign-in.
package upstream
