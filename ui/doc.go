// Package ui serves Latchkey's hosted self-service pages, so that a browser
// user can sign up, sign in, manage the account, recover it and verify an
// address with no other application: /ui/login, /ui/registration,
// /ui/settings, /ui/recovery, /ui/verification, /ui/error and a landing page
// at /ui/ (also /ui/welcome). These are the default
// selfservice.flows.<flow>.ui_url values.
//
// The pages behave as Ory's reference UI (kratos-selfservice-ui-node) does:
// they are a client of the Kratos face's public wire API, never of its Go
// types. GET /ui/login?flow=ID fetches GET /self-service/login/flows?id=ID
// with the browser's Cookie header (the anti-CSRF check needs it) and renders
// the flow's ui.nodes as an HTML form whose action is ui.action, so the
// browser posts straight to the self-service endpoint; without ?flow= the
// page redirects to /self-service/<flow>/browser, keeping the query
// (return_to, refresh, aal …). The requests are made in process, through the
// public listener's handler (Options.Public), not over the network.
//
// Everything is rendered with html/template from embedded templates and one
// embedded stylesheet; no JavaScript is served or needed, so nodes that only
// work with a script (WebAuthn buttons, script nodes) are left out. Every
// page carries a Content-Security-Policy without script sources,
// X-Frame-Options: DENY, X-Content-Type-Options: nosniff and
// Referrer-Policy: same-origin. Texts other than the flow's own messages
// and labels are English.
package ui
