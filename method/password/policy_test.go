package password

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/core"
)

func TestPolicyCheck(t *testing.T) {
	t.Parallel()
	def := DefaultPolicy()
	noSimilarity := def
	noSimilarity.IdentifierSimilarityCheck = false
	tests := []struct {
		name        string
		policy      Policy
		password    string
		identifiers []string
		want        *PolicyError // nil: accepted
		message     string
	}{
		{"good", def, "correct horse battery", []string{"alice@example.com"}, nil, ""},
		{"no identifiers", def, "correct horse battery", nil, nil, ""},
		{"empty identifier ignored", def, "abcdefgh", []string{""}, nil, ""},
		{"exactly min", def, "k9#Lm2$q", nil, nil, ""},
		{"exactly max", def, strings.Repeat("k", 72), nil, nil, ""},
		{"min counts characters not bytes", def, "pässwörd", nil, nil, ""},

		{"empty", def, "", nil, &PolicyError{Reason: ReasonTooShort, Min: 8, Max: 72, Actual: 0},
			"The password must be at least 8 characters long, but got 0."},
		{"too short", def, "short", nil, &PolicyError{Reason: ReasonTooShort, Min: 8, Max: 72, Actual: 5},
			"The password must be at least 8 characters long, but got 5."},
		{"too short in characters", def, "äöüßéè", nil, &PolicyError{Reason: ReasonTooShort, Min: 8, Max: 72, Actual: 6},
			"The password must be at least 8 characters long, but got 6."},
		{"too long ascii", def, strings.Repeat("k", 73), nil, &PolicyError{Reason: ReasonTooLong, Min: 8, Max: 72, Actual: 73},
			"The password must be at most 72 characters long, but got 73."},
		{"too long in bytes", def, strings.Repeat("€", 25), nil, &PolicyError{Reason: ReasonTooLong, Min: 8, Max: 72, Actual: 75},
			"The password must be at most 72 bytes long, but got 75 (characters other than plain ASCII letters, digits and punctuation take two to four bytes each)."},
		{"custom bounds", Policy{MinLength: 12, MaxLength: 128}, "elevenchars", nil, &PolicyError{Reason: ReasonTooShort, Min: 12, Max: 128, Actual: 11},
			"The password must be at least 12 characters long, but got 11."},
		{"custom max", Policy{MinLength: 12, MaxLength: 128}, strings.Repeat("k", 100), nil, nil, ""},

		{"same as identifier", def, "alice@example.com", []string{"alice@example.com"}, &PolicyError{Reason: ReasonTooSimilar, Min: 8, Max: 72},
			"The password can not be used because it is too similar to the identifier."},
		{"identifier case-insensitive", def, "ALICE@EXAMPLE.COM!", []string{"alice@example.com"}, &PolicyError{Reason: ReasonTooSimilar, Min: 8, Max: 72},
			"The password can not be used because it is too similar to the identifier."},
		{"few edits away", def, "alice@exmple.con", []string{"alice@example.com"}, &PolicyError{Reason: ReasonTooSimilar, Min: 8, Max: 72},
			"The password can not be used because it is too similar to the identifier."},
		{"identifier is most of it", def, "johnsmith2024!", []string{"johnsmith"}, &PolicyError{Reason: ReasonTooSimilar, Min: 8, Max: 72},
			"The password can not be used because it is too similar to the identifier."},
		{"second identifier", def, "johnsmith2024!", []string{"alice@example.com", "johnsmith"}, &PolicyError{Reason: ReasonTooSimilar, Min: 8, Max: 72},
			"The password can not be used because it is too similar to the identifier."},
		{"half shared is fine", def, "john-purple-tractor", []string{"johnsmith"}, nil, ""},
		{"similarity check off", noSimilarity, "alice@example.com", []string{"alice@example.com"}, nil, ""},
		{"length before similarity", def, "alice", []string{"alice"}, &PolicyError{Reason: ReasonTooShort, Min: 8, Max: 72, Actual: 5},
			"The password must be at least 8 characters long, but got 5."},
		{"zero policy uses default bounds", Policy{}, "short", nil, &PolicyError{Reason: ReasonTooShort, Min: 8, Max: 72, Actual: 5},
			"The password must be at least 8 characters long, but got 5."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.policy.Check(tc.password, tc.identifiers...)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var ce *core.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Check = %#v, want a *core.Error", err)
			}
			if ce.Code != core.CodeInvalid || ce.Field != "password" || ce.Message != tc.message {
				t.Errorf("core.Error = {%s %q field %q}, want {invalid %q field password}", ce.Code, ce.Message, ce.Field, tc.message)
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check = %v, no *PolicyError in the chain", err)
			}
			if pe.Reason != tc.want.Reason || pe.Min != tc.want.Min || pe.Max != tc.want.Max || pe.Actual != tc.want.Actual {
				t.Errorf("PolicyError = %+v, want %+v", *pe, *tc.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       Policy
		wantErr string
	}{
		{"default", DefaultPolicy(), ""},
		{"zero", Policy{}, ""},
		{"argon2 friendly", Policy{MinLength: 12, MaxLength: 1024}, ""},
		{"negative min", Policy{MinLength: -1}, "at least 1"},
		{"max below min", Policy{MinLength: 20, MaxLength: 10}, "less than the minimum"},
		{"max over hashing limit", Policy{MaxLength: MaxPasswordBytes + 1}, "at most 4096 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.p.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestEditDistances(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b      string
		lev, lcss int
	}{
		{"", "", 0, 0},
		{"abc", "", 3, 0},
		{"kitten", "sitting", 3, 3},
		{"flaw", "lawn", 2, 3},
		{"johnsmith", "johnsmith2024!", 5, 9},
		{"größe", "grösse", 2, 3},
	}
	for _, tc := range tests {
		t.Run(tc.a+"/"+tc.b, func(t *testing.T) {
			t.Parallel()
			a, b := []rune(tc.a), []rune(tc.b)
			if got := levenshtein(a, b); got != tc.lev {
				t.Errorf("levenshtein = %d, want %d", got, tc.lev)
			}
			if got := levenshtein(b, a); got != tc.lev {
				t.Errorf("levenshtein reversed = %d, want %d", got, tc.lev)
			}
			if got := longestCommonSubstring(a, b); got != tc.lcss {
				t.Errorf("longestCommonSubstring = %d, want %d", got, tc.lcss)
			}
		})
	}
}
