// Package kratos is Latchkey's Ory Kratos face: HTTP handlers that speak the
// wire format of Kratos' Identities API (kratos-api.json) so that software
// written against Ory's SDKs works unchanged.
//
// This part serves the admin identity API (/admin/identities…), the admin
// session API (/admin/sessions…, /admin/identities/{id}/sessions) and the
// identity schemas (/schemas…). It also holds the pieces every Kratos handler
// shares: the genericError envelope writer (WriteError, the one place where
// core.Code becomes an HTTP status), Kratos' three pagination schemes with
// their Link headers, the admin-prefix middleware (AdminPrefix) and the JSON
// shapes of identities and sessions.
//
// Handlers decode, call the identity service or the store, and encode; the
// rules about identities live in package identity.
package kratos

// # Self-service flows
//
// SelfService (selfservice*.go) serves Kratos' self-service flows (login,
// registration, settings, recovery, verification, logout, stored errors) and
// the public session endpoints (sessions_public.go) on the public listener.
// Every flow runs on the shared flow engine: one flow.Definition per kind,
// built once in NewSelfService, whose records live in the store, so any
// replica continues any flow.
//
// A request goes through three generic handlers in selfservice_flow.go:
// initFlow (GET /self-service/<kind>/{browser,api}: return_to check, the
// kind's initChecks, the anti-CSRF cookie for browser flows, flow start,
// then 303 to the UI or the flow as JSON), getFlow (GET …/flows?id=: CSRF
// cookie check for browser flows, 410 when expired) and submitFlow (POST
// /self-service/<kind>?flow=: JSON or dotted form body, the API-flow and
// CSRF checks, the kind's submitChecks, then the strategy the body's method
// names). Answers are made in one place each: showForm (303 back to the UI,
// or 400 with the flow for SPA and native clients), replaceExpired (a fresh
// flow carrying the expiry message; 410 naming it for JSON clients),
// writeError (the error envelope, or a stored error and a 303 to the error
// UI for browsers) and the kind's finish step (session issuance, hooks,
// continue_with, return_to).
//
// # Adding a strategy
//
// A credential method takes part in a flow as a strategy: the body's method
// value that selects it, the inputs the engine records, a nodes function
// rendering its UI nodes from the flow as it stands (view: state, stash,
// kept values, identity), and a prepare step that does the slow or external
// work outside the step's transaction (hashing: identity.Service.Prepare)
// and returns an outcome: the next state, or messages to show with the form
// again, and optionally a function run inside the transaction (checking or
// sending a code, storing the registered identity through
// identity.Service.WithTx, so a step that fails leaves no identity behind).
// The engine action derived from the strategy (outcomeAction) applies the
// outcome inside the transaction. To add a method to a flow, append its
// strategy to the kind's strategies function (loginStrategies,
// registrationStrategies, settingsStrategies, addressStrategies) when the
// configuration enables it; use Kratos' node groups, message ids (ui.go)
// and golden node lists (testdata/) so UIs render it unchanged. The method
// logic itself belongs in method/*, shared with the Hanko face.
//
// UIs pick their screen from the flow's active method and node groups (Ory
// Elements shows only the active method's group), so the face sets active
// as Kratos does (setActive): in login and registration a step names its
// method once it goes through (outcome.next set) and leaves active alone
// when it fails; outcome.clearActive empties it (the profile_first screen
// change); settings, recovery and verification name every submission's
// method. Registration nodes are ordered by group (registrationGroupOrder).
// The flow-shape goldens (flowshapes_test.go, testdata/flows/) pin each
// step of a method in browser, SPA and native mode: add a scenario there.
//
// # Passkeys and security keys
//
// The passkey (strategy_passkey.go) and webauthn (strategy_webauthn.go)
// methods serve browser flows only, as Kratos': an API flow shows none of
// their nodes and finds no strategy for them. Their ceremonies are
// method/webauthn's over the one relying party, and their credentials the
// store's one WebAuthn table the Hanko face shares (passkeys are records
// without mfa_only, security keys records with it). A strategy's begin hook
// starts the ceremony when the flow is created and keeps its options and
// session in the flow's stash; every answer, accepted or not, replaces it
// with a new one, so a challenge is used once and any replica finishes it.
// The nodes carry the options (passkey_challenge, passkey_create_data, the
// webauthn trigger buttons' values) and the script node that loads
// webauthn.js (GET /.well-known/ory/webauthn.js, webauthn_script.go),
// which runs navigator.credentials and posts the form natively, without a
// submit button: the strategies take such a body by their result field
// (strategy.fields). Security keys as second factor plug into the aal2
// seam (mfa.go, webauthnFactor); admin views show both kinds in Kratos'
// credential shape and imports write them (identities_webauthn.go).
//
// # Adding a flow
//
// A new kind needs a definition builder (its states and s.actions(kind)),
// an entry in NewSelfService's definition, UI URL and lifespan tables, its
// strategies in strategies, its preconditions in initChecks and
// submitChecks, its finish step, and its routes in MountPublic (recovery
// and verification, in recovery_verification.go, mount theirs through
// mountAddressFlows while reusing start, render, CSRF, expiry and errors).
// Work that must happen after another flow completes goes through a hook
// point rather than a call into that flow's code: registration and settings
// call the VerificationHook, which returns the continue_with entries to add.
