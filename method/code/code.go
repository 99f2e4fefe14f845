package code

import (
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/latchkey/latchkey/core"
)

// Errors returned by Check. Each is a *core.Error whose message can be shown
// to the user as is.
var (
	// ErrInvalid means the submitted code is wrong; attempts remain.
	ErrInvalid = &core.Error{Code: core.CodeInvalid, Message: "The code is invalid or has already been used. Please try again."}
	// ErrExpired means the code is past its lifetime.
	ErrExpired = &core.Error{Code: core.CodeExpired, Message: "The code has expired. Please request a new one."}
	// ErrExhausted means the attempt limit was reached: the code is dead,
	// even if the right value is submitted afterwards.
	ErrExhausted = &core.Error{Code: core.CodeRateLimited, Message: "Too many wrong codes were submitted. Please request a new code."}
	// ErrUsed means the code was already accepted once.
	ErrUsed = &core.Error{Code: core.CodeInvalid, Message: "The code has already been used. Please request a new one."}
)

// MACer computes a keyed MAC and verifies one against every configured key
// (so secrets rotate); *cipher.Signer satisfies it.
type MACer interface {
	MAC(msg []byte) []byte
	VerifyMAC(msg, mac []byte) bool
}

// Code is the stored form of an issued code or link token. It serialises to
// JSON for flow stashes.
type Code struct {
	MAC         []byte    `json:"mac"`
	IssuedAt    time.Time `json:"issued_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts"`
	Used        bool      `json:"used,omitempty"`
}

// Remaining is how many submissions the code still accepts.
func (c *Code) Remaining() int { return max(c.MaxAttempts-c.Attempts, 0) }

// Options configure an Issuer. Zero fields take the defaults.
type Options struct {
	Digits      int              // length of numeric codes; default 6
	TokenLength int              // length of link tokens; default 32
	TTL         time.Duration    // lifetime; default 15 minutes
	MaxAttempts int              // submissions accepted per code; default 5
	Now         func() time.Time // default time.Now
	Rand        io.Reader        // default crypto/rand.Reader
}

// Issuer issues and checks codes.
type Issuer struct {
	mac MACer
	o   Options
}

// NewIssuer returns an Issuer keyed by mac. It returns an error when mac is
// nil or an option is out of range.
func NewIssuer(mac MACer, o Options) (*Issuer, error) {
	if mac == nil {
		return nil, errors.New("code: a MAC key is required")
	}
	if o.Digits == 0 {
		o.Digits = 6
	}
	if o.TokenLength == 0 {
		o.TokenLength = 32
	}
	if o.TTL == 0 {
		o.TTL = 15 * time.Minute
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	switch {
	case o.Digits < 4 || o.Digits > 12:
		return nil, fmt.Errorf("code: %d digits is out of range (4 to 12)", o.Digits)
	case o.TokenLength < 16 || o.TokenLength > 128:
		return nil, fmt.Errorf("code: token length %d is out of range (16 to 128)", o.TokenLength)
	case o.TTL < 0 || o.MaxAttempts < 0:
		return nil, errors.New("code: TTL and MaxAttempts must not be negative")
	}
	return &Issuer{mac: mac, o: o}, nil
}

// TTL is the lifetime of the codes this Issuer makes.
func (i *Issuer) TTL() time.Duration { return i.o.TTL }

// Issue makes a numeric code bound to binding (e.g. "recovery:"+flowID) and
// returns the plain code, to be sent, and its stored form.
func (i *Issuer) Issue(binding string) (string, Code, error) {
	return i.issue(binding, "0123456789", i.o.Digits)
}

// IssueToken makes a long alphanumeric token (for links) bound to binding.
func (i *Issuer) IssueToken(binding string) (string, Code, error) {
	return i.issue(binding, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", i.o.TokenLength)
}

// IssueWithTTL is Issue with a lifetime other than the Issuer's.
func (i *Issuer) IssueWithTTL(binding string, ttl time.Duration) (string, Code, error) {
	plain, c, err := i.Issue(binding)
	if err == nil {
		c.ExpiresAt = c.IssuedAt.Add(ttl)
	}
	return plain, c, err
}

func (i *Issuer) issue(binding, alphabet string, n int) (string, Code, error) {
	b := make([]byte, n)
	limit := big.NewInt(int64(len(alphabet)))
	for k := range b {
		v, err := rand.Int(i.o.Rand, limit)
		if err != nil {
			return "", Code{}, fmt.Errorf("code: read randomness: %w", err)
		}
		b[k] = alphabet[v.Int64()]
	}
	plain := string(b)
	now := i.o.Now().UTC()
	return plain, Code{
		MAC:         i.mac.MAC(message(binding, plain)),
		IssuedAt:    now,
		ExpiresAt:   now.Add(i.o.TTL),
		MaxAttempts: i.o.MaxAttempts,
	}, nil
}

// Check counts one submission of submitted against c and reports whether it
// matches. It updates c (attempts, used), which the caller must persist
// whatever the outcome. It returns nil on a match, ErrUsed, ErrExpired,
// ErrExhausted (the limit was reached by this or an earlier submission), or
// ErrInvalid.
func (i *Issuer) Check(c *Code, binding, submitted string) error {
	switch {
	case c.Used:
		return ErrUsed
	case c.MaxAttempts > 0 && c.Attempts >= c.MaxAttempts:
		return ErrExhausted
	case !i.o.Now().Before(c.ExpiresAt):
		return ErrExpired
	}
	c.Attempts++
	if len(submitted) > 256 || !i.mac.VerifyMAC(message(binding, submitted), c.MAC) {
		if c.MaxAttempts > 0 && c.Attempts >= c.MaxAttempts {
			return ErrExhausted
		}
		return ErrInvalid
	}
	c.Used = true
	return nil
}

// Equal reports, in constant time, whether two stored codes carry the same
// MAC (used to tell whether a resend replaced a code).
func Equal(a, b Code) bool { return hmac.Equal(a.MAC, b.MAC) }

// message is what the MAC covers: the binding and the code, length-prefixed
// so that no two (binding, code) pairs collide.
func message(binding, code string) []byte {
	return fmt.Appendf(nil, "latchkey-code\x00%d\x00%s\x00%s", len(binding), binding, code)
}
