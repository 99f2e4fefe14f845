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
