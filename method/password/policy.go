package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/core"
)

// Policy defaults.
const (
	// DefaultMinLength is Kratos' and Hanko's default minimum, in characters.
	DefaultMinLength = 8
	// DefaultMaxLength is bcrypt's input limit in bytes, also Hanko's
	// default maximum. Keeping every password within it means a stored
	// password can always be rehashed with bcrypt should the configured
	// algorithm change; deployments that stay on argon2 may raise it.
	DefaultMaxLength = BcryptMaxPasswordBytes
)

// The identifier similarity thresholds of Kratos' password validator: a
// password is too similar to an identifier when fewer than five edits turn
// one into the other, or when they share a run longer than half the
// password. Both are compared case-insensitively.
const (
	minIdentifierDistance       = 5
	maxIdentifierSubstringRatio = 0.5
	maxIdentifierRunes          = 1024 // longer identifiers are compared by their first 1024 characters
)

// Reason says which rule of the policy a password broke.
type Reason string

// The reasons a password can be refused.
const (
	ReasonTooShort   Reason = "too_short"
	ReasonTooLong    Reason = "too_long"
	ReasonTooSimilar Reason = "too_similar"
	// ReasonBreached: the password is in more known data breaches than
	// the policy allows (Policy.Breaches).
	ReasonBreached Reason = "breached"
	// ReasonUnchecked: the breach look-up failed and the policy does not
	// ignore look-up errors.
	ReasonUnchecked Reason = "unchecked"
)

// BreachCounter counts the known data breaches a password appears in (Have
// I Been Pwned's Pwned Passwords). An error means the count is unknown.
type BreachCounter interface {
	Breaches(ctx context.Context, password string) (int64, error)
}

// PolicyError describes a refused password so that each API face can map
// it to its own message id (Kratos: 4000032 too short, 4000033 too long,
// 4000031 too similar). Min and Max are the policy's bounds. Actual is the
// password's length in characters for ReasonTooShort, in bytes for
// ReasonTooLong, and zero otherwise. Breaches is the count found for
// ReasonBreached; Cause the failed look-up for ReasonUnchecked.
type PolicyError struct {
	Reason   Reason
	Min      int
	Max      int
	Actual   int
	Breaches int64
	Cause    error
	ascii    bool // the password is ASCII, so bytes and characters agree
}

// Error returns the message for the user.
func (e *PolicyError) Error() string {
	switch e.Reason {
	case ReasonTooShort:
		return fmt.Sprintf("The password must be at least %d characters long, but got %d.", e.Min, e.Actual)
	case ReasonTooLong:
		if e.ascii {
			return fmt.Sprintf("The password must be at most %d characters long, but got %d.", e.Max, e.Actual)
		}
		return fmt.Sprintf("The password must be at most %d bytes long, but got %d (characters other than plain ASCII letters, digits and punctuation take two to four bytes each).", e.Max, e.Actual)
	case ReasonTooSimilar:
		return "The password can not be used because it is too similar to the identifier."
	case ReasonBreached:
		return "The password has been found in data breaches and must no longer be used."
	case ReasonUnchecked:
		return "The password can not be used because it could not be checked against known data breaches; try again later."
	}
	return "The password can not be used."
}

// Policy is the password policy. MinLength counts characters (Unicode code
// points) and MaxLength counts bytes of UTF-8; a zero value takes the
// default. IdentifierSimilarityCheck refuses passwords too similar to any of
// the user's identifiers, as Kratos does by default. With Breaches set,
// CheckContext also refuses passwords found in more than MaxBreaches known
// data breaches; a failed look-up lets the password pass when
// IgnoreLookupErrors is set (Kratos' ignore_network_errors) and refuses it
// otherwise.
type Policy struct {
	MinLength                 int
	MaxLength                 int
	IdentifierSimilarityCheck bool
	Breaches                  BreachCounter
	MaxBreaches               int64
	IgnoreLookupErrors        bool
}

// DefaultPolicy returns Kratos' defaults: at least 8 characters, at most 72
// bytes (see DefaultMaxLength), identifier similarity check on.
func DefaultPolicy() Policy {
	return Policy{MinLength: DefaultMinLength, MaxLength: DefaultMaxLength, IdentifierSimilarityCheck: true}
}

func (p Policy) bounds() (int, int) {
	lo, hi := p.MinLength, p.MaxLength
	if lo == 0 {
		lo = DefaultMinLength
	}
	if hi == 0 {
		hi = DefaultMaxLength
	}
	return lo, hi
}

// Validate reports whether the policy's bounds make sense: the minimum at
// least 1, the maximum at least the minimum and at most MaxPasswordBytes.
func (p Policy) Validate() error {
	lo, hi := p.bounds()
	var errs []error
	if lo < 1 {
		errs = append(errs, fmt.Errorf("password minimum length must be at least 1, got %d", lo))
	}
	if hi < lo {
		errs = append(errs, fmt.Errorf("password maximum length %d is less than the minimum %d", hi, lo))
	}
	if hi > MaxPasswordBytes {
		errs = append(errs, fmt.Errorf("password maximum length must be at most %d bytes, got %d", MaxPasswordBytes, hi))
	}
	return errors.Join(errs...)
}

// Check returns nil when password satisfies the policy. Otherwise it
// returns a *core.Error with code core.CodeInvalid, field "password", a
// message for the user, and a *PolicyError as its cause (errors.As finds
// it). Empty identifiers are ignored.
func (p Policy) Check(password string, identifiers ...string) error {
	lo, hi := p.bounds()
	var pe *PolicyError
	switch n := utf8.RuneCountInString(password); {
	case n < lo:
		pe = &PolicyError{Reason: ReasonTooShort, Min: lo, Max: hi, Actual: n}
	case len(password) > hi:
		pe = &PolicyError{Reason: ReasonTooLong, Min: lo, Max: hi, Actual: len(password), ascii: n == len(password)}
	case p.IdentifierSimilarityCheck && tooSimilar(password, identifiers):
		pe = &PolicyError{Reason: ReasonTooSimilar, Min: lo, Max: hi}
	default:
		return nil
	}
	return &core.Error{Code: core.CodeInvalid, Message: pe.Error(), Field: "password", Cause: pe}
}

// CheckContext is Check followed, for a password that passes it, by the
// breach look-up of p.Breaches (none when nil), as Kratos' password
// validator orders them: the look-up is only made for passwords the local
// rules accept. Its errors are Check's, with ReasonBreached and
// ReasonUnchecked added.
func (p Policy) CheckContext(ctx context.Context, password string, identifiers ...string) error {
	if err := p.Check(password, identifiers...); err != nil || p.Breaches == nil {
		return err
	}
	lo, hi := p.bounds()
	n, err := p.Breaches.Breaches(ctx, password)
	var pe *PolicyError
	switch {
	case err != nil && p.IgnoreLookupErrors:
		return nil
	case err != nil:
		pe = &PolicyError{Reason: ReasonUnchecked, Min: lo, Max: hi, Cause: err}
	case n > p.MaxBreaches:
		pe = &PolicyError{Reason: ReasonBreached, Min: lo, Max: hi, Breaches: n}
	default:
		return nil
	}
	return &core.Error{Code: core.CodeInvalid, Message: pe.Error(), Field: "password", Cause: pe}
}

func tooSimilar(password string, identifiers []string) bool {
	pw := []rune(strings.ToLower(password))
	if len(pw) == 0 {
		return false
	}
	for _, id := range identifiers {
		r := []rune(strings.ToLower(id))
		if len(r) > maxIdentifierRunes {
			r = r[:maxIdentifierRunes]
		}
		if len(r) == 0 {
			continue
		}
		if levenshtein(r, pw) < minIdentifierDistance ||
			float64(longestCommonSubstring(r, pw))/float64(len(pw)) > maxIdentifierSubstringRatio {
			return true
		}
	}
	return false
}

// levenshtein returns the edit distance between a and b.
func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// longestCommonSubstring returns the length of the longest run that a and b
// share.
func longestCommonSubstring(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	best := 0
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
				best = max(best, cur[j])
			} else {
				cur[j] = 0
			}
		}
		prev, cur = cur, prev
	}
	return best
}
