// Package cipher protects secrets at rest and signs small values.
//
// Cipher encrypts with AES-256-GCM (crypto/aes, crypto/cipher) under the
// first of the configured secrets.cipher entries and decrypts with any of
// them, so a secret can be rotated by prepending a new one and dropping the
// old one once nothing encrypted under it remains. The AES key is not the
// secret itself: it is derived from it with HKDF-SHA256 (RFC 5869, stdlib
// crypto/hkdf), so secrets of any length from 32 bytes up give full-strength
// keys and the same secret never serves two purposes.
//
// Every ciphertext is self-describing:
//
//	version (1 byte, 0x01) ‖ key id (4 bytes) ‖ nonce (12 bytes) ‖ AES-GCM sealed data and tag
//
// The key id is derived from the secret with HKDF as well (it reveals nothing
// about the key) and selects the secret to decrypt with; the version byte
// lets the format evolve. Both are authenticated together with the caller's
// additional data, so any change to the header or the body is detected.
//
// Signer computes HMAC-SHA256 tags under the first of the secrets.default
// entries and verifies them, in constant time, under every entry. The API
// faces use it for signed cookies and tokens.
package cipher
