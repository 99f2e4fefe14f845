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
// browser posts straight to the self-service endpoint. The identity schema
// (GET /schemas/{id}) gives the order of the trait inputs (as the schema
// file writes them; the wire lists them by name) and the title the login
// identifier is labelled with; inputs the face sends without an
// autocomplete token get the one that fits; without ?flow= the
// page redirects to /self-service/<flow>/browser, keeping the query
// (return_to, refresh, aal …). The requests are made in process, through the
// public listener's handler (Options.Public), not over the network. When
// the public base URL is http://localhost:<port>/ (serve --dev), a page
// asked for as 127.0.0.1 or [::1] on that port is sent to localhost, where
// the face's redirects, cookies and passkeys are.
//
// Everything is rendered with html/template from embedded templates and one
// embedded stylesheet, plus theme.css holding the colours of the ui.*
// config (product name, logo, primary colour, custom stylesheet); light or
// dark follows the system (prefers-color-scheme). Stylesheets are served
// with an ETag and, under their ?v=<content hash> URLs, cached for a year. The pages need no JavaScript except for WebAuthn
// (passkeys, security keys): when a flow's script node names the Kratos
// face's own /.well-known/ory/webauthn.js, the page loads it with a fresh
// CSP nonce and its integrity hash, and renders the method's buttons and
// autofill input with data-latchkey-onclick / data-latchkey-onload marks
// the script binds (never inline handlers); any other script node, and
// without the script every node that needs it, is left out. Every page
// carries a Content-Security-Policy whose only script source is that nonce
// (none on pages without WebAuthn), X-Frame-Options: DENY,
// X-Content-Type-Options: nosniff and Referrer-Policy: same-origin.
//
// The settings page also lists the account's sessions ("Sessions and
// devices": this browser's, marked, and the others with device, IP address
// and times) with a button to sign each out and "Sign out everywhere
// else": plain forms posting to <base>/settings/sessions, which calls the
// face's DELETE /sessions/{id} or DELETE /sessions with the browser's
// cookies, behind the pages' own anti-CSRF token (sessions.go).
//
// The pages speak the courier's nine languages (en, de, fr, it, nl, pt-BR,
// zh, bn, pl), chosen by ?lang= (remembered in the latchkey_ui_lang cookie),
// then Accept-Language, then English; a switcher on every page links to
// the others. Their own strings and the flow's labels and messages (by
// Kratos message id, filled from the message's context) come from
// ui/i18n/<lang>.json; tests fail on a key missing in any language and on
// a message id the face sends that has no entry.
package ui
