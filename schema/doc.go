// Package schema holds Latchkey's identity schemas: JSON Schema documents
// that validate an identity's traits and, through the ory.sh/kratos
// extension keyword, say which traits are login identifiers and which are
// addresses for verification, recovery and one-time codes. Both API faces
// use it: the Kratos face serves the documents on /schemas and renders
// validation errors as Kratos UI messages; the identity code of both faces
// derives identifiers and addresses from traits with Extract and
// ApplyAddresses.
//
// # Loading
//
// New builds a Registry from configured Sources (file:// or base64:// URLs;
// http(s) is refused, nothing is fetched over the network) plus the embedded
// default schema, id "default" (default.schema.json). The default models
// Hanko's user and a typical Kratos identity: a required e-mail address
// (identifier for password, code and WebAuthn logins, passkey display name,
// TOTP account name, verified and used for recovery by e-mail), an optional
// username (password identifier, 3 to 32 of A-Z a-z 0-9 _ . -) and optional
// name, given_name, family_name and picture (a URI). Schemas are compiled
// with github.com/santhosh-tekuri/jsonschema/v6, draft-07 when $schema is
// absent (as Kratos), with the "format" keyword asserted. A malformed
// ory.sh/kratos keyword (unknown fields, a via other than "email" or "sms",
// a code identifier without via) fails loading.
//
// # The ory.sh/kratos extension
//
// On any string trait:
//
//	credentials.password.identifier: true   password login identifier
//	credentials.webauthn.identifier: true   WebAuthn (security key) login identifier
//	credentials.code.identifier: true,      one-time-code login address;
//	  via: "email" | "sms"                  the value must be a valid address
//	credentials.passkey.display_name: true  name shown for new passkeys
//	credentials.totp.account_name: true     account name in TOTP apps
//	verification.via: "email" | "sms"       address to verify (Kratos' verifiable_addresses)
//	recovery.via: "email" | "sms"           address usable for recovery
//
// The keyword works on nested objects and on array items (e.g. "emails":
// {"type": "array", "items": {..., "ory.sh/kratos": {...}}}), through $ref
// and allOf, and under anyOf/oneOf/if branches that apply to the value.
//
// # Normalisation
//
// E-mail addresses are trimmed and lower-cased as a whole (local part
// included), as Kratos does. Phone numbers (via "sms") are trimmed and
// stripped of spaces, '-', '.', '(' and ')' and must then be E.164: "+", a
// non-zero digit, 7 to 15 digits in all; national formats without a country
// code are rejected. Password and WebAuthn identifiers are normalised with
// NormalizeIdentifier: a value that is an E.164 number after phone
// normalisation is stored as such, anything else (e-mail address or
// username) is trimmed and lower-cased, so usernames are case-insensitive
// (older Kratos releases lower-cased every identifier; current Kratos keeps
// the case of usernames, which lets "Alice" and "alice" be two accounts).
// No Unicode normalisation is applied. Empty values are skipped.
//
// # Errors
//
// Validate and Extract return a *ValidationError whose Causes carry a JSON
// pointer into the traits, the failing keyword, Kratos' English text and
// Kratos' message id with its context (4000002 required, 4000003 minLength,
// 4000026 type, 4000001 for format and anything without a dedicated id), so
// the Kratos face can render ui.messages byte-for-byte. Malformed input
// (not JSON, larger than MaxTraitsSize) yields a *core.Error with
// CodeInvalid wrapping ErrMalformedTraits. Unknown schema ids yield a
// *core.Error with CodeNotFound wrapping ErrUnknown.
package schema
