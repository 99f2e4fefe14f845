package schema

import (
	"strings"

	"github.com/latchkey/latchkey/core"
)

// Normalize returns the canonical form of an address on channel via, the form
// stored in core.Address.Value and compared for uniqueness:
//
//   - e-mail: surrounding white space removed and the whole address
//     lower-cased (local part included), as Kratos does;
//   - sms: surrounding white space removed and the visual separators space,
//     tab, no-break space, '-', '.', '(' and ')' dropped, so
//     "+49 (170) 123-4567" becomes "+491701234567";
//   - any other channel: surrounding white space removed.
//
// Normalize never fails; ValidAddress says whether the result is usable.
func Normalize(via core.AddressVia, value string) string {
	switch via {
	case core.ViaEmail:
		return strings.ToLower(strings.TrimSpace(value))
	case core.ViaSMS:
		return normalizePhone(value)
	default:
		return strings.TrimSpace(value)
	}
}

// NormalizeIdentifier returns the canonical form of a password or WebAuthn
// login identifier (e-mail address, username or phone number). A value that
// is an E.164 phone number once normalised as an sms address is stored in
// that form; anything else is trimmed and lower-cased, so identifiers are
// case-insensitive. Login code must normalise what the user typed with the
// same function before looking it up.
//
// This follows older Kratos releases, which lower-cased every identifier.
// Current Kratos keeps the case of usernames, which lets "Alice" and "alice"
// be two accounts; Latchkey keeps the older, case-insensitive rule.
func NormalizeIdentifier(value string) string {
	v := strings.TrimSpace(value)
	if p := normalizePhone(v); validPhone(p) {
		return p
	}
	return strings.ToLower(v)
}

// ValidAddress reports whether a normalised value is a usable address on
// channel via: an e-mail address per the JSON Schema "email" format, or an
// E.164 phone number ("+", a non-zero digit, 7 to 15 digits in all).
func ValidAddress(via core.AddressVia, normalized string) bool {
	switch via {
	case core.ViaEmail:
		return validEmail(normalized)
	case core.ViaSMS:
		return validPhone(normalized)
	default:
		return false
	}
}

func normalizePhone(value string) string {
	v := strings.TrimSpace(value)
	var b strings.Builder
	b.Grow(len(v))
	for _, r := range v {
		switch r {
		case ' ', '\t', '\u00a0', '-', '.', '(', ')':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func validPhone(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
