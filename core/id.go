package core

// ParseID checks an id taken from a client — of an identity, session,
// flow, message, credential, webhook or user, on either face — before it
// goes anywhere near a query. Every id Latchkey stores is a UUID in
// canonical form (8-4-4-4-12 lower-case hex digits), so anything else,
// including non-ASCII text and invalid UTF-8 that some databases refuse to
// compare with their ASCII id columns, cannot name a row. ParseID returns
// the canonical form (upper-case hex digits are lowered, as Kratos and
// Hanko parse ids case-insensitively) and true, or "" and false. It is the
// one place that decides what an id looks like: faces answer a false as
// their "not found" (or "bad request" where the API says so), and the store
// treats a malformed id as an id no row has.
func ParseID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	var b [36]byte
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			switch {
			case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
			case 'A' <= c && c <= 'F':
				c += 'a' - 'A'
			default:
				return "", false
			}
		}
		b[i] = c
	}
	return string(b[:]), true
}

// IsID reports whether s is an id in canonical form exactly (ParseID
// returns it unchanged). The store uses it: ids reach it canonical.
func IsID(s string) bool {
	c, ok := ParseID(s)
	return ok && c == s
}
