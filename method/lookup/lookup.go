package lookup

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/ratelimit"
)

// The shape of a set of codes, as Kratos makes them.
const (
	Count    = 12
	Length   = 8
	alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// Errors of Redeem. Each is a *core.Error whose message can be shown as is.
var (
	ErrInvalid  = &core.Error{Code: core.CodeInvalid, Message: "The backup recovery code is not valid."}
	ErrUsed     = &core.Error{Code: core.CodeInvalid, Message: "This backup recovery code has already been used."}
	ErrNotSetUp = &core.Error{Code: core.CodeInvalid, Message: "You have no backup recovery codes set up."}
)

// Sealer encrypts and decrypts at rest; *cipher.Cipher satisfies it.
type Sealer interface {
	Encrypt(plaintext, aad []byte) ([]byte, error)
	Decrypt(ciphertext, aad []byte) ([]byte, error)
}

// Ledger serialises redemptions per identity; store.Counters in the
// caller's transaction satisfies it (its Hit holds a row lock until commit).
type Ledger interface {
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error)
}

// Options configure a Method. Zero fields take the defaults.
type Options struct {
	Now  func() time.Time // default time.Now
	Rand io.Reader        // default crypto/rand.Reader
}

// Method makes, seals and redeems lookup codes.
type Method struct {
	seal Sealer
	o    Options
}

// New returns a Method sealing codes with seal; it fails when seal is nil.
func New(seal Sealer, o Options) (*Method, error) {
	if seal == nil {
		return nil, errors.New("lookup: a sealer is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Method{seal: seal, o: o}, nil
}

// Code is one code in the clear, with when it was used (nil when unused).
type Code struct {
	Code   string
	UsedAt *time.Time
}

// Generate makes a fresh set of Count unused codes.
func (m *Method) Generate() ([]Code, error) {
	out := make([]Code, Count)
	limit := big.NewInt(int64(len(alphabet)))
	for i := range out {
		b := make([]byte, Length)
		for j := range b {
			v, err := rand.Int(m.o.Rand, limit)
			if err != nil {
				return nil, fmt.Errorf("lookup: read randomness: %w", err)
			}
			b[j] = alphabet[v.Int64()]
		}
		out[i] = Code{Code: string(b)}
	}
	return out, nil
}

// sealedCode is one stored code.
type sealedCode struct {
	Sealed []byte     `json:"code_sealed"`
	UsedAt *time.Time `json:"used_at,omitempty"`
}

// Config is the stored config of a lookup_secret credential.
type Config struct {
	Codes []sealedCode `json:"recovery_codes_sealed"`
}

func aad(identityID string) []byte { return []byte("lookup_secret:" + identityID) }

// Encrypter encrypts at rest; *cipher.Cipher satisfies it.
type Encrypter interface {
	Encrypt(plaintext, aad []byte) ([]byte, error)
}

// Seal returns the credential config holding codes for the identity. It
// refuses an empty list or an empty code.
func (m *Method) Seal(identityID string, codes []Code) (json.RawMessage, error) {
	return SealConfig(m.seal, identityID, codes)
}

// SealConfig is Seal for callers without a Method (the admin API's import
// of lookup secrets), with the same errors.
func SealConfig(e Encrypter, identityID string, codes []Code) (json.RawMessage, error) {
	if len(codes) == 0 {
		return nil, core.Errorf(core.CodeInvalid, "At least one lookup secret code is required.")
	}
	c := Config{Codes: make([]sealedCode, len(codes))}
	for i, code := range codes {
		v := strings.TrimSpace(code.Code)
		if v == "" {
			return nil, core.Errorf(core.CodeInvalid, "Lookup secret code %d is empty.", i)
		}
		ct, err := e.Encrypt([]byte(v), aad(identityID))
		if err != nil {
			return nil, fmt.Errorf("lookup: seal code: %w", err)
		}
		c.Codes[i] = sealedCode{Sealed: ct, UsedAt: code.UsedAt}
	}
	return json.Marshal(c)
}

// Opener decrypts at rest; *cipher.Cipher satisfies it.
type Opener interface {
	Decrypt(ciphertext, aad []byte) ([]byte, error)
}

// Open returns the codes of an identity's credential config, in order. It
// returns ErrNotSetUp when there are none.
func (m *Method) Open(identityID string, config json.RawMessage) ([]Code, error) {
	return OpenConfig(m.seal, identityID, config)
}

// OpenConfig is Open for callers without a Method (the admin API's
// include_credential=lookup_secret), with the same errors.
func OpenConfig(o Opener, identityID string, config json.RawMessage) ([]Code, error) {
	var c Config
	if len(config) > 0 {
		if err := json.Unmarshal(config, &c); err != nil {
			return nil, fmt.Errorf("lookup: read config: %w", err)
		}
	}
	if len(c.Codes) == 0 {
		return nil, ErrNotSetUp
	}
	out := make([]Code, len(c.Codes))
	for i, s := range c.Codes {
		pt, err := o.Decrypt(s.Sealed, aad(identityID))
		if err != nil {
			return nil, fmt.Errorf("lookup: open code %d: %w", i, err)
		}
		out[i] = Code{Code: string(pt), UsedAt: s.UsedAt}
	}
	return out, nil
}

// Redeem is Use as one attempt under a (kind ratelimit.Lookup, the identity
// id and the client address clientIP, which may be empty): a refused
// attempt returns the policy's error before any code is compared, a right
// code takes back what the attempt counted (ratelimit.Attempt). A nil a
// limits nothing. Pass the step's transaction as ledger and a policy bound
// to it (ratelimit.Policy.In).
func (m *Method) Redeem(ctx context.Context, a *ratelimit.Policy, ledger Ledger, identityID string, load func() (json.RawMessage, error), submitted, clientIP string) (json.RawMessage, error) {
	attempt, err := a.Begin(ctx, ratelimit.Lookup, identityID, clientIP)
	if err != nil {
		return nil, err
	}
	cfg, err := m.Use(ctx, ledger, identityID, load, submitted)
	if err != nil {
		return nil, err
	}
	if err := attempt.Succeed(ctx, a); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Use uses one code of the identity. It locks the identity's codes in
// ledger (the caller's transaction), then calls load for the current config
// (so it reads after the lock) and returns the config with the code marked
// used. It returns ErrNotSetUp, ErrInvalid or ErrUsed when the code cannot
// be used; the caller stores the returned config in the same transaction.
// Redeem counts it as an attempt.
func (m *Method) Use(ctx context.Context, ledger Ledger, identityID string, load func() (json.RawMessage, error), submitted string) (json.RawMessage, error) {
	if _, _, err := ledger.Hit(ctx, "lookup_secret_lock:"+identityID, time.Hour, time.Unix(0, 0)); err != nil {
		return nil, fmt.Errorf("lookup: lock: %w", err)
	}
	cfg, err := load()
	if err != nil {
		return nil, err
	}
	codes, err := m.Open(identityID, cfg)
	if err != nil {
		return nil, err
	}
	submitted = strings.TrimSpace(submitted)
	found := -1
	for i, c := range codes {
		// Every code is compared, so timing says nothing about which matched.
		if subtle.ConstantTimeCompare([]byte(c.Code), []byte(submitted)) == 1 && found < 0 {
			found = i
		}
	}
	if found < 0 || submitted == "" {
		return nil, ErrInvalid
	}
	if codes[found].UsedAt != nil {
		return nil, ErrUsed
	}
	var c Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		return nil, fmt.Errorf("lookup: read config: %w", err)
	}
	now := m.o.Now().UTC().Truncate(time.Second)
	c.Codes[found].UsedAt = &now
	return json.Marshal(c)
}

// Remaining returns how many of the codes are unused.
func Remaining(codes []Code) int {
	n := 0
	for _, c := range codes {
		if c.UsedAt == nil {
			n++
		}
	}
	return n
}
