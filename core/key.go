package core

import "time"

// SigningKey is a JWT signing key. The private key is stored only in
// encrypted form (AES-GCM under the first of secrets.cipher); Public is the
// public JWK as JSON. The newest key signs; every stored key verifies.
type SigningKey struct {
	ID                  string // the JWK "kid"
	Algorithm           string // "ES256" or "RS256"
	PrivateKeyEncrypted []byte
	PublicJWK           []byte
	CreatedAt           time.Time
}
