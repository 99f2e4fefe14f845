package password

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/ratelimit"
)

// ErrInvalidCredentials is the one answer to a wrong identifier or a wrong
// password: the two are not told apart.
var ErrInvalidCredentials = &core.Error{Code: core.CodeUnauthorized, Message: "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number."}

// ErrIdentityDisabled is returned, after the password matched, for an
// identity whose state is inactive.
var ErrIdentityDisabled = &core.Error{Code: core.CodeForbidden, Message: "This account was disabled."}

// RateLimitError is returned when an identifier or a client address made too
// many attempts; RetryAfter says when to try again.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many password attempts; retry after %s", e.RetryAfter.Round(time.Second))
}

// AsCore returns the error as a *core.Error with code rate_limited.
func (e *RateLimitError) AsCore() *core.Error {
	secs := int(e.RetryAfter.Round(time.Second) / time.Second)
	return &core.Error{Code: core.CodeRateLimited, Message: fmt.Sprintf("Too many login attempts. Please try again in %d seconds.", max(secs, 1)), Cause: e}
}

// Limiter counts attempts under a key and says how long to wait once the
// key's limit is reached (zero while attempts remain).
type Limiter interface {
	Attempt(ctx context.Context, key string) (retryAfter time.Duration, err error)
}

// IdentityStore is the part of the store the Authenticator uses.
type IdentityStore interface {
	FindIdentityByIdentifier(ctx context.Context, t core.CredentialType, identifier string) (*core.Identity, error)
	UpdateIdentity(ctx context.Context, i *core.Identity) error
}

// Config is the stored config of a password credential, in Kratos' shape.
type Config struct {
	HashedPassword   string `json:"hashed_password,omitempty"`
	UseMigrationHook bool   `json:"use_password_migration_hook,omitempty"`
}

// Authenticator checks an identifier and password: one indexed lookup, the
// shared attempt policy (ratelimit.Policy, kind ratelimit.Password, keyed by
// the identity and the client address), one hash verification (a dummy one
// for unknown identifiers, so timing does not reveal which exist), and a
// lazy re-hash of imported or outdated hashes after a successful login.
type Authenticator struct {
	Store  IdentityStore
	Hasher *Hasher
	// Policy is the attempt policy both faces share; nil limits nothing.
	// Inside a store transaction pass Policy.In(tx).
	Policy *ratelimit.Policy
	// PerID is an extra limit on every attempt, right or wrong, per
	// identifier (the Hanko face's hanko.rate_limiter.password_limits);
	// nil for none.
	PerID    Limiter
	NotFound error // the store's not-found error (store.ErrNotFound)
}

// Authenticate returns the identity whose password credential has the
// (already normalised) identifier and whose password is pw. It returns
// ErrInvalidCredentials for an unknown identifier or a wrong password, a
// *RateLimitError when limits are reached (checked before any hashing),
// ErrIdentityDisabled for an inactive identity with the right password, and
// other errors for failures of the store or the limiter.
func (a *Authenticator) Authenticate(ctx context.Context, identifier, pw, clientIP string) (*core.Identity, error) {
	id, hashed, succ, err := a.attempt(ctx, identifier, pw, clientIP)
	if !succ.ok {
		return nil, err
	}
	if err := succ.Record(ctx, a.Policy); err != nil {
		return nil, err
	}
	return a.finish(ctx, id, hashed, pw)
}

// Attempt is Authenticate that leaves recording the right attempt to the
// caller: for a right password (an inactive identity's too, with
// ErrIdentityDisabled) the Success's Record takes the attempt back from the
// limits, inside the transaction the login commits in. Until then the
// attempt stays counted, as a wrong one.
func (a *Authenticator) Attempt(ctx context.Context, identifier, pw, clientIP string) (*core.Identity, Success, error) {
	id, hashed, succ, err := a.attempt(ctx, identifier, pw, clientIP)
	if !succ.ok {
		return nil, Success{}, err
	}
	id, err = a.finish(ctx, id, hashed, pw)
	return id, succ, err
}

// Success is the right password of an Attempt, not yet taken back from
// the attempt limits: what the policy counted for it.
type Success struct {
	a  ratelimit.Attempt
	ok bool
}

// Record takes the attempt back under p (ratelimit.Attempt.Succeed, which
// does not read the known-IP state again): the Authenticator's policy,
// bound to the caller's transaction (Policy.In). It returns the limiter's
// error. The zero Success records nothing.
func (s Success) Record(ctx context.Context, p *ratelimit.Policy) error {
	if !s.ok {
		return nil
	}
	if err := s.a.Succeed(ctx, p); err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	return nil
}

// attempt counts the attempt and checks the password. It returns the
// identity, its stored hash and a non-zero Success for a right password,
// and otherwise the error Authenticate answers.
func (a *Authenticator) attempt(ctx context.Context, identifier, pw, clientIP string) (*core.Identity, string, Success, error) {
	if err := a.extraLimit(ctx, identifier); err != nil {
		return nil, "", Success{}, err
	}
	var id *core.Identity
	if identifier != "" && pw != "" && len(pw) <= MaxPasswordBytes {
		var err error
		id, err = a.Store.FindIdentityByIdentifier(ctx, core.CredentialPassword, identifier)
		if err != nil && (a.NotFound == nil || !errors.Is(err, a.NotFound)) {
			return nil, "", Success{}, fmt.Errorf("look up identifier: %w", err)
		}
	}
	// The policy's key: the identity when the identifier names one (so
	// every identifier of an account, on either face, counts together),
	// else what was given.
	key := ""
	switch {
	case id != nil:
		key = id.ID
	case identifier != "":
		key = "identifier:" + identifier
	}
	counted, err := a.Policy.Begin(ctx, ratelimit.Password, key, clientIP)
	if err != nil {
		var ex *ratelimit.ExceededError
		if errors.As(err, &ex) {
			return nil, "", Success{}, &RateLimitError{RetryAfter: ex.RetryAfter}
		}
		return nil, "", Success{}, fmt.Errorf("rate limit: %w", err)
	}
	if id == nil {
		_ = a.Hasher.DummyVerify(ctx, []byte(pw))
		return nil, "", Success{}, ErrInvalidCredentials
	}
	hashed := hashedPassword(id)
	if hashed == "" {
		// Found by identifier but without a password (e.g. deleted through
		// the admin API): same answer and timing as a wrong password.
		_ = a.Hasher.DummyVerify(ctx, []byte(pw))
		return nil, "", Success{}, ErrInvalidCredentials
	}
	if err := a.Hasher.Verify(ctx, []byte(pw), hashed); err != nil {
		if errors.Is(err, ErrMismatch) {
			return nil, "", Success{}, ErrInvalidCredentials
		}
		if ctx.Err() != nil {
			return nil, "", Success{}, ctx.Err()
		}
		// A stored hash we cannot parse is the operator's problem, not the
		// user's: log-worthy, but the user learns only that login failed.
		return nil, "", Success{}, &core.Error{Code: core.CodeInternal, Message: "The stored password cannot be checked.", Cause: err}
	}
	return id, hashed, Success{a: counted, ok: true}, nil
}

// hashedPassword returns the identity's stored password hash, or "".
func hashedPassword(id *core.Identity) string {
	cred, ok := id.Credential(core.CredentialPassword)
	var cfg Config
	if ok {
		_ = json.Unmarshal(cred.Config, &cfg)
	}
	return cfg.HashedPassword
}

// finish refuses an inactive identity and upgrades an outdated hash after
// a right password.
func (a *Authenticator) finish(ctx context.Context, id *core.Identity, hashed, pw string) (*core.Identity, error) {
	if id.State == core.IdentityInactive {
		return nil, ErrIdentityDisabled
	}
	if a.Hasher.NeedsRehash(hashed) {
		cred, _ := id.Credential(core.CredentialPassword)
		if err := a.rehash(ctx, id, cred, pw); err != nil {
			// The login itself succeeded; the upgrade is retried next time.
			return id, nil
		}
	}
	return id, nil
}

func (a *Authenticator) rehash(ctx context.Context, id *core.Identity, cred core.Credential, pw string) error {
	h, err := a.Hasher.Hash(ctx, []byte(pw))
	if err != nil {
		return err
	}
	b, err := json.Marshal(Config{HashedPassword: h})
	if err != nil {
		return err
	}
	cred.Config = b
	id.SetCredential(cred)
	return a.Store.UpdateIdentity(ctx, id)
}

// extraLimit counts one attempt against PerID.
func (a *Authenticator) extraLimit(ctx context.Context, identifier string) error {
	if a.PerID == nil {
		return nil
	}
	// Identifiers are hashed so counter keys in the store reveal nothing.
	sum := sha256.Sum256([]byte(identifier))
	wait, err := a.PerID.Attempt(ctx, "password:id:"+hex.EncodeToString(sum[:16]))
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if wait > 0 {
		return &RateLimitError{RetryAfter: wait}
	}
	return nil
}
