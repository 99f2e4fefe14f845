package ratelimit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/core"
)

// Rule is one limit: at most Limit events per Window. Name identifies the
// rule in stored keys ("login_identifier", "login_ip"); two rules must not
// share a name.
type Rule struct {
	Name   string
	Limit  int
	Window time.Duration
}

// ErrInvalidRule is wrapped by every limiter's Allow when a rule has no name,
// a limit below 1 or a window below one millisecond.
var ErrInvalidRule = errors.New("ratelimit: invalid rule")

func (r Rule) check() error {
	if r.Name == "" || r.Limit < 1 || r.Window < time.Millisecond {
		return fmt.Errorf("%w: %q limit %d window %s", ErrInvalidRule, r.Name, r.Limit, r.Window)
	}
	return nil
}

// Decision is a limiter's answer for one event.
type Decision struct {
	// Allowed reports whether the event may happen.
	Allowed bool
	// Remaining is how many more events the rule allows right now.
	Remaining int
	// RetryAfter is how long to wait before the next event can be allowed;
	// zero when this one was allowed.
	RetryAfter time.Duration
}

// Err returns nil when the event is allowed, otherwise an *ExceededError
// carrying RetryAfter, whose chain holds a core.Error with code
// core.CodeRateLimited for the faces.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &ExceededError{RetryAfter: d.RetryAfter}
}

// ExceededError says a rate limit was exceeded and when to retry (Hanko's
// rate_limit_exceeded with retry_after, Kratos' 429).
type ExceededError struct {
	RetryAfter time.Duration
}

func (e *ExceededError) Error() string {
	return fmt.Sprintf("rate limit exceeded, retry after %s", e.RetryAfter)
}

// Unwrap returns the core error the faces map to HTTP 429.
func (e *ExceededError) Unwrap() error {
	return &core.Error{Code: core.CodeRateLimited, Message: "Too many requests. Please try again later."}
}

// Limiter counts events and decides whether they are allowed.
type Limiter interface {
	// Allow counts one event for key under rule. It returns an error
	// wrapping ErrInvalidRule for a bad rule, or the backend's error; the
	// caller decides whether to fail open or closed then.
	Allow(ctx context.Context, rule Rule, key string) (Decision, error)
	// Undo takes back one event counted for key under rule (an attempt that
	// turned out right), never below none. It returns an error wrapping
	// ErrInvalidRule for a bad rule, or the backend's error.
	Undo(ctx context.Context, rule Rule, key string) error
	// Seen reports whether an event was counted for key under rule within
	// the last rule.Window, without counting one. The database backend
	// counts in fixed windows and may answer true for up to two windows.
	// It returns an error wrapping ErrInvalidRule for a bad rule, or the
	// backend's error.
	Seen(ctx context.Context, rule Rule, key string) (bool, error)
	// Reset forgets every event counted for key under rule (after a
	// successful login, say). It returns the backend's error.
	Reset(ctx context.Context, rule Rule, key string) error
}

// hashKey returns the stored key for key under rule: the rule's name and a
// truncated HMAC-SHA-256 of key, so stored keys reveal no identifier.
func hashKey(secret []byte, rule Rule, key string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(rule.Name))
	m.Write([]byte{0})
	m.Write([]byte(key))
	return "ratelimit:" + rule.Name + ":" + hex.EncodeToString(m.Sum(nil)[:16])
}
