// Package core holds Latchkey's domain types and error codes: identities,
// their addresses and credentials, sessions, flow records, courier messages
// and signing keys. It uses the standard library only and knows nothing of
// HTTP, SQL or either API face; every other package speaks in these types.
package core
