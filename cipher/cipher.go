package cipher

import (
	"crypto/aes"
	stdcipher "crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// Format constants of version 1 ciphertexts.
const (
	version1    byte = 0x01
	keyIDSize        = 4
	nonceSize        = 12
	headerSize       = 1 + keyIDSize + nonceSize
	overhead         = headerSize + 16 // header plus the GCM tag
	hkdfKeyInfo      = "latchkey cipher v1 aes-256-gcm key"
	hkdfIDInfo       = "latchkey cipher v1 key id"

	// MinSecretLen is the shortest secrets.cipher entry Cipher accepts.
	MinSecretLen = 32
)

// Errors returned by Decrypt, wrapped; test them with errors.Is.
var (
	// ErrMalformed means the input is not a ciphertext of a known format.
	ErrMalformed = errors.New("cipher: malformed ciphertext")
	// ErrNoKey means no configured secret decrypts the ciphertext: it was
	// made under a secret that has been removed, or it was tampered with.
	ErrNoKey = errors.New("cipher: no configured secret decrypts the ciphertext")
)

type aeadKey struct {
	id   [keyIDSize]byte
	aead stdcipher.AEAD
}

// Cipher is authenticated encryption at rest under a list of secrets: the
// first encrypts, every one decrypts. It is safe for concurrent use.
type Cipher struct {
	keys []aeadKey
	rand io.Reader
}

// New returns a Cipher over secrets (the secrets.cipher list, newest
// first). It returns an error when the list is empty or a secret is shorter
// than MinSecretLen bytes.
func New(secrets ...string) (*Cipher, error) {
	return NewWithRand(rand.Reader, secrets...)
}

// NewWithRand is New with the source of nonces injected, for tests. r must
// be a cryptographically secure source in production.
func NewWithRand(r io.Reader, secrets ...string) (*Cipher, error) {
	if len(secrets) == 0 {
		return nil, errors.New("cipher: no secret configured")
	}
	if r == nil {
		return nil, errors.New("cipher: nil random source")
	}
	c := &Cipher{rand: r, keys: make([]aeadKey, 0, len(secrets))}
	for i, s := range secrets {
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("cipher: secret %d is %d bytes long, want at least %d", i, len(s), MinSecretLen)
		}
		key, err := hkdf.Key(sha256.New, []byte(s), nil, hkdfKeyInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("cipher: derive key %d: %w", i, err)
		}
		id, err := hkdf.Key(sha256.New, []byte(s), nil, hkdfIDInfo, keyIDSize)
		if err != nil {
			return nil, fmt.Errorf("cipher: derive key id %d: %w", i, err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("cipher: key %d: %w", i, err)
		}
		aead, err := stdcipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("cipher: key %d: %w", i, err)
		}
		k := aeadKey{aead: aead}
		copy(k.id[:], id)
		c.keys = append(c.keys, k)
	}
	return c, nil
}

// Encrypt seals plaintext under the first secret. aad is authenticated but
// not encrypted: Decrypt must be given the same aad (bind a ciphertext to
// its owner, e.g. a record id, so it cannot be moved to another record). It
// returns an error only when the random source fails.
func (c *Cipher) Encrypt(plaintext, aad []byte) ([]byte, error) {
	k := &c.keys[0]
	out := make([]byte, headerSize, overhead+len(plaintext))
	out[0] = version1
	copy(out[1:], k.id[:])
	nonce := out[1+keyIDSize : headerSize]
	if _, err := io.ReadFull(c.rand, nonce); err != nil {
		return nil, fmt.Errorf("cipher: read nonce: %w", err)
	}
	return k.aead.Seal(out, nonce, plaintext, additionalData(out[:headerSize], aad)), nil
}

// Decrypt opens a ciphertext made by Encrypt under any configured secret.
// It returns an error wrapping ErrMalformed when ct is not in a known format
// and one wrapping ErrNoKey when no secret opens it with aad (unknown
// secret, wrong aad, or tampering).
func (c *Cipher) Decrypt(ct, aad []byte) ([]byte, error) {
	if len(ct) < overhead {
		return nil, fmt.Errorf("decrypt: %w: %d bytes is too short", ErrMalformed, len(ct))
	}
	if ct[0] != version1 {
		return nil, fmt.Errorf("decrypt: %w: unknown version %d", ErrMalformed, ct[0])
	}
	header := ct[:headerSize]
	nonce := ct[1+keyIDSize : headerSize]
	ad := additionalData(header, aad)
	for i := range c.keys {
		k := &c.keys[i]
		if [keyIDSize]byte(ct[1:1+keyIDSize]) != k.id {
			continue
		}
		pt, err := k.aead.Open(nil, nonce, ct[headerSize:], ad)
		if err == nil {
			return pt, nil
		}
	}
	return nil, fmt.Errorf("decrypt: %w", ErrNoKey)
}

// additionalData authenticates the header together with the caller's aad.
// The header has a fixed length, so the concatenation is unambiguous.
func additionalData(header, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	ad = append(ad, header...)
	return append(ad, aad...)
}
