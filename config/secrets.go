package config

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
)

// Secrets holds the keys Latchkey signs and encrypts with. In every list the
// first entry signs or encrypts and every entry verifies or decrypts, so a
// key is rotated by prepending a new one.
type Secrets struct {
	Default []string `koanf:"default" doc:"Signing and encryption secrets, at least 16 characters each; required outside --dev." secret:"true"`
	Cipher  []string `koanf:"cipher" doc:"Encryption secrets for data at rest, exactly 32 characters each; required outside --dev, which generates one when empty." secret:"true"`
}

// NeedsDevSecrets reports whether c runs in --dev mode with secrets.default
// or secrets.cipher empty, so the caller must call FillDevSecrets (and should
// persist what it generates) before serving. Outside --dev it is always
// false: there a missing secrets.default fails Load instead.
func (c *Config) NeedsDevSecrets() bool {
	return c.Dev && (len(c.Secrets.Default) == 0 || len(c.Secrets.Cipher) == 0)
}

const secretAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// FillDevSecrets sets every empty one of secrets.default and secrets.cipher
// to one random 32-character secret read from r (crypto/rand.Reader when r is
// nil) and returns the keys it filled. It returns an error, and changes
// nothing, if r fails.
func (c *Config) FillDevSecrets(r io.Reader) ([]string, error) {
	if r == nil {
		r = rand.Reader
	}
	var filled []string
	var def, ciph string
	var err error
	if len(c.Secrets.Default) == 0 {
		if def, err = randomSecret(r, 32); err != nil {
			return nil, fmt.Errorf("generate secrets.default: %w", err)
		}
		filled = append(filled, "secrets.default")
	}
	if len(c.Secrets.Cipher) == 0 {
		if ciph, err = randomSecret(r, 32); err != nil {
			return nil, fmt.Errorf("generate secrets.cipher: %w", err)
		}
		filled = append(filled, "secrets.cipher")
	}
	if def != "" {
		c.Secrets.Default = []string{def}
	}
	if ciph != "" {
		c.Secrets.Cipher = []string{ciph}
	}
	return filled, nil
}

func randomSecret(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(secretAlphabet)))
	for i := range b {
		v, err := rand.Int(r, max)
		if err != nil {
			return "", err
		}
		b[i] = secretAlphabet[v.Int64()]
	}
	return string(b), nil
}

func (s *Secrets) validate(c *Config, p *Problems) {
	if len(s.Default) == 0 && !c.Dev {
		p.add("secrets.default", "is required outside --dev; set at least one random secret of 16 or more characters (e.g. `openssl rand -hex 16`)")
	}
	if len(s.Cipher) == 0 && !c.Dev {
		// serve encrypts signing keys and second factors with it from the
		// start, so a check that passed without it would mislead.
		p.add("secrets.cipher", "is required outside --dev; set at least one random secret of exactly 32 characters (e.g. `openssl rand -hex 16`)")
	}
	checkSecretList(p, "secrets.default", s.Default, 16, 0)
	checkSecretList(p, "secrets.cipher", s.Cipher, 32, 32)
}

func checkSecretList(p *Problems, key string, list []string, min, exact int) {
	seen := make(map[string]int, len(list))
	for i, v := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case exact > 0 && len(v) != exact:
			p.add(k, "is %d characters long; cipher secrets must be exactly %d characters", len(v), exact)
		case len(v) < min:
			p.add(k, "is %d characters long, below the minimum of %d", len(v), min)
		}
		if j, dup := seen[v]; dup {
			p.add(k, "repeats %s[%d]; every secret must be different", key, j)
		}
		seen[v] = i
	}
}
