// Package session issues, verifies, extends and revokes sessions, and signs
// and verifies the JWTs that carry them.
//
// Both API faces share one session row. The Kratos face hands out an opaque
// token (Kratos' format: "ory_st_" and 32 alphanumerics); only its SHA-256
// is stored, so a database leak reveals no usable token, and verifying one is
// a single indexed lookup with no write. The Hanko face hands out a JWT
// signed by Keys whose session_id claim names the same row; the face checks
// the row after VerifyJWT, so revoking a session ends it for both faces.
//
// Keys is the ring of signing keys shared by every replica through the
// store: the newest key signs, every stored key verifies, private keys are
// stored encrypted by package cipher, and the ring is reloaded at most every
// minute (and on an unknown kid) so a rotation on one replica reaches the
// others within a minute. JWK, JWS and JWT handling is
// github.com/lestrrat-go/jwx/v3.
//
// Nothing here speaks HTTP: the faces read tokens from headers and cookies
// and map the *core.Error values returned here to their wire formats.
package session
