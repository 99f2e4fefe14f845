// Package oidc is third-party sign-in, shared by both faces: one list of
// upstream OpenID Connect and OAuth2 providers, the authorization request
// (state bound to the flow and the browser, nonce, PKCE S256 — OIDC Core
// §3.1.2.1, RFC 7636 §4), kept in the flow or sealed for it (SealPending)
// for the browser to carry, the callback's checks, claim mapping (a default
// mapping from a verified e-mail, or the operator's Jsonnet mapper with
// std.extVar('claims') as Kratos passes it), encrypted provider tokens and
// the account-linking rules.
//
// Linking rules (the security-critical part):
//   - a provider identity is bound to (provider id, subject), stored as the
//     oidc credential identifier "provider:subject" — never to an e-mail;
//   - an e-mail the provider does not assert as verified never signs anyone
//     into an existing account: Resolve reports a Conflict, which a face
//     answers with its duplicate-account error or by asking the user to
//     prove the existing account first;
//   - automatic linking (Hanko's allow_linking) happens only for a verified
//     provider e-mail equal to a verified address of the existing account.
//
// Talking HTTP to providers (discovery, token endpoint, JWKS, userinfo) is
// behind the Upstream interface, implemented by package upstream; this
// package must not import net/http or database/sql.
package oidc
