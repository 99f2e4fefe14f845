package password

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Errors of hashing and verification. Verify wraps ErrUnknownFormat and
// ErrMalformed with a description; check them with errors.Is.
var (
	// ErrMismatch means the password does not match the hash.
	ErrMismatch = errors.New("password does not match")
	// ErrUnknownFormat means the stored hash is in no supported format.
	ErrUnknownFormat = errors.New("unknown password hash format")
	// ErrMalformed means the stored hash is in a supported format but is
	// damaged, or its parameters are out of bounds.
	ErrMalformed = errors.New("malformed password hash")
	// ErrPasswordTooLong means the password is longer than MaxPasswordBytes,
	// or than BcryptMaxPasswordBytes when hashing with bcrypt.
	ErrPasswordTooLong = errors.New("password too long")
)

// bcryptB64 is bcrypt's own base64 alphabet, without padding.
var bcryptB64 = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params Params
	random io.Reader
	sem    chan struct{}
	lim    *limits
	dummy  *parsed
	// observe, when set, is told how long each computation took.
	observe func(operation, algorithm string, d time.Duration)
}

// ObserveWith makes h report the duration of every hash ("hash", with the
// configured algorithm) and verification ("verify", with the stored hash's
// scheme) to fn, not counting the wait for a slot. Call it before h is used.
func (h *Hasher) ObserveWith(fn func(operation, algorithm string, d time.Duration)) { h.observe = fn }

// NewHasher returns a Hasher for p. random supplies argon2 salts (nil means
// crypto/rand; bcrypt always draws its salt from crypto/rand). It fails when
// p is invalid (see Params.Validate) or random fails.
func NewHasher(p Params, random io.Reader) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	if random == nil {
		random = rand.Reader
	}
	n := p.Concurrency
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: p, random: random, sem: make(chan struct{}, n), lim: &defaultLimits}
	dummy, err := h.dummyHash(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	if h.dummy, err = parse(dummy, h.lim); err != nil {
		return nil, fmt.Errorf("password hasher: dummy hash: %w", err)
	}
	return h, nil
}

// Params returns the parameters the Hasher was built with.
func (h *Hasher) Params() Params { return h.params }

// dummyHash builds a well-formed hash with the configured algorithm and
// parameters but random content, so verifying against it costs what a real
// verification costs without hashing anything at start-up. Its content
// comes from random, not from the Hasher's salt source, so injected salts
// stay predictable in tests.
func (h *Hasher) dummyHash(random io.Reader) (string, error) {
	switch h.params.Algorithm {
	case AlgorithmBcrypt:
		b := make([]byte, 16+23)
		if _, err := io.ReadFull(random, b); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		return fmt.Sprintf("$2a$%02d$%s%s", h.params.BcryptCost, bcryptB64.EncodeToString(b[:16]), bcryptB64.EncodeToString(b[16:])), nil
	default:
		a := h.params.Argon2
		b := make([]byte, a.SaltLength+a.KeyLength)
		if _, err := io.ReadFull(random, b); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		return encodeArgon2id(a, b[:a.SaltLength], b[a.SaltLength:]), nil
	}
}

func encodeArgon2id(a Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, a.Memory, a.Iterations, a.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// acquire waits for a computation slot; the returned func releases it.
func (h *Hasher) acquire(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Hash hashes password with the configured algorithm and returns the PHC
// string ("$argon2id$v=19$m=…,t=…,p=…$salt$key" or "$2a$cc$…"). It fails
// with ErrPasswordTooLong for passwords over MaxPasswordBytes (over
// BcryptMaxPasswordBytes with bcrypt), with the context's error when ctx
// ends while waiting for a slot, or when the random source fails.
func (h *Hasher) Hash(ctx context.Context, password []byte) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("hash password: %w: %d bytes, the limit is %d", ErrPasswordTooLong, len(password), MaxPasswordBytes)
	}
	if h.params.Algorithm == AlgorithmBcrypt && len(password) > BcryptMaxPasswordBytes {
		return "", fmt.Errorf("hash password: %w: %d bytes, bcrypt takes at most %d", ErrPasswordTooLong, len(password), BcryptMaxPasswordBytes)
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	defer release()
	if h.observe != nil {
		start := time.Now()
		defer func() { h.observe("hash", string(h.params.Algorithm), time.Since(start)) }()
	}

	switch h.params.Algorithm {
	case AlgorithmBcrypt:
		b, err := bcrypt.GenerateFromPassword(password, h.params.BcryptCost)
		if err != nil {
			return "", fmt.Errorf("hash password: bcrypt: %w", err)
		}
		return string(b), nil
	default:
		a := h.params.Argon2
		salt := make([]byte, a.SaltLength)
		if _, err := io.ReadFull(h.random, salt); err != nil {
			return "", fmt.Errorf("hash password: read salt: %w", err)
		}
		key := argon2.IDKey(password, salt, a.Iterations, a.Memory, a.Parallelism, a.KeyLength)
		return encodeArgon2id(a, salt, key), nil
	}
}

// Verify checks password against the stored hash encoded, in any format
// listed in the package documentation. It returns nil on a match and
// ErrMismatch on a mismatch. Any other error means the password could not
// be checked and must be treated as a failure: ErrUnknownFormat or
// ErrMalformed (wrapped, with a description fit for the log) for a hash it
// cannot use, ErrPasswordTooLong for a password over MaxPasswordBytes (over
// 256 bytes against a sha256-crypt or sha512-crypt hash, whose work grows
// with the password's length), or
// the context's error when ctx ends while waiting for a slot.
func (h *Hasher) Verify(ctx context.Context, password []byte, encoded string) error {
	p, err := parse(encoded, h.lim)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if len(password) > h.lim.maxPasswordLength {
		return fmt.Errorf("verify password: %w: %d bytes, the limit is %d", ErrPasswordTooLong, len(password), h.lim.maxPasswordLength)
	}
	return h.run(ctx, p, password)
}

func (h *Hasher) run(ctx context.Context, p *parsed, password []byte) error {
	release, err := h.acquire(ctx)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	defer release()
	if h.observe != nil {
		start := time.Now()
		defer func() { h.observe("verify", p.scheme, time.Since(start)) }()
	}
	ok, err := p.match(password)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		return ErrMismatch
	}
	return nil
}

// DummyVerify spends the time of a verification against a hash of the
// configured algorithm and parameters, for logins whose identifier matches
// no account, so they take as long as logins with a wrong password. It
// returns ErrMismatch, or the context's error when ctx ends while waiting.
func (h *Hasher) DummyVerify(ctx context.Context, password []byte) error {
	if len(password) > h.lim.maxPasswordLength {
		password = password[:h.lim.maxPasswordLength]
	}
	if err := h.run(ctx, h.dummy, password); err != nil && !errors.Is(err, ErrMismatch) {
		return err
	}
	return ErrMismatch
}

// NeedsRehash reports whether encoded was not made with the configured
// algorithm and parameters (argon2id memory, iterations, parallelism, salt
// and key length; bcrypt cost), so the caller should store a fresh Hash of
// the password it has just verified. Unparseable hashes need a rehash too.
func (h *Hasher) NeedsRehash(encoded string) bool {
	switch h.params.Algorithm {
	case AlgorithmArgon2:
		if !strings.HasPrefix(encoded, "$argon2id$") {
			return true
		}
		got, err := decodeArgon2("argon2id", encoded, h.lim)
		if err != nil {
			return true
		}
		want := h.params.Argon2
		return got.memory != want.Memory || got.iterations != want.Iterations ||
			got.parallelism != want.Parallelism || uint32(len(got.salt)) != want.SaltLength ||
			uint32(len(got.key)) != want.KeyLength
	case AlgorithmBcrypt:
		p, err := parse(encoded, h.lim)
		if err != nil || p.scheme != "bcrypt" {
			return true
		}
		cost, err := bcrypt.Cost([]byte(encoded))
		return err != nil || cost != h.params.BcryptCost
	}
	return true
}

// Scheme names the format of a stored hash that Verify can check, such as
// "argon2id", "bcrypt", "pbkdf2-sha256", "scrypt", "{SSHA}", "sha1", "md5",
// "hmac-sha256", "md5-crypt" or "sha512-crypt", without computing anything.
// Use it to validate hashes before importing them. It fails with a wrapped
// ErrUnknownFormat or ErrMalformed.
func Scheme(encoded string) (string, error) {
	p, err := parse(encoded, &defaultLimits)
	if err != nil {
		return "", err
	}
	return p.scheme, nil
}
