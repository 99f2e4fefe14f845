// Package hanko is Latchkey's Hanko face: HTTP handlers wire-compatible with
// Hanko v3, so @teamhanko/hanko-elements and @teamhanko/hanko-frontend-sdk
// work against Latchkey unchanged.
//
// It serves, over the shared identity store:
//
//   - the Flow API (POST /login, /registration, /profile), whose flows run on
//     package flow (flow*.go, login*.go, registration*.go, profile*.go,
//     passcode*.go);
//   - the public API: GET /.well-known/jwks.json, GET|POST
//     /sessions/validate, GET /me, POST /logout and, for the 2.x frontend
//     SDK, GET /users/{id} of the current user (public*.go);
//   - the admin API: users, metadata, e-mails, password, WebAuthn
//     credentials, TOTP, sessions, audit logs and webhooks (admin*.go).
//
// A Hanko user is an identity with the default schema: traits.email is the
// primary e-mail address, further e-mail addresses are core.Address rows
// outside the traits, traits.username the username. A Hanko session is a
// session row (package session) carried by a JWT signed with session.Keys
// whose session_id claim names the row; it is set as the cookie "hanko" or,
// with hanko.session.enable_auth_token_header, returned as X-Auth-Token.
// Revoking the row ends the session for both faces (session*.go).
//
// Errors of the public and admin API have Hanko's shape
// {"code": <status>, "message": "..."} (errors.go); the Flow API renders its
// own errors into flow states. Webhook events are queued in the store in the
// same transaction as the change that caused them (Options.Events, a
// *webhook.Dispatcher) and delivered by package webhook's Worker, whose
// tokens the Handler signs (SignWebhookToken, webhook*.go); audit log
// entries are written by Handler.Audit, in the change's transaction where
// there is one, and listed by GET /audit_logs (audit*.go, admin_audit.go).
//
// Nothing outside cmd/latchkey imports this package, and it never imports
// the Kratos face.
package hanko
