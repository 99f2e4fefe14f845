package password

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-crypt/crypt/algorithm"
	"github.com/go-crypt/crypt/algorithm/md5crypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
	"golang.org/x/crypto/bcrypt"
)

// cryptAlphabet is the base64 alphabet of crypt(3) and bcrypt.
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func inCryptAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(cryptAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// parseBcrypt checks the shape "$2a$NN$<22 salt><31 hash>" (also $2$, $2b$,
// $2y$, $2z$) and the cost before x/crypto/bcrypt does the work. Passwords
// longer than bcrypt's 72-byte input never match: bcrypt would ignore their
// tail, so some other password would match too.
func parseBcrypt(encoded string, lim *limits) (*parsed, error) {
	const scheme = "bcrypt"
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || len(parts[2]) != 2 || len(parts[3]) != 53 || !inCryptAlphabet(parts[3]) {
		return nil, malformed(scheme, "want $2a$<two-digit cost>$<53 characters of bcrypt base64>")
	}
	cost, err := parseDecimal(parts[2], 99)
	if err != nil {
		return nil, malformed(scheme, "cost: %v", err)
	}
	if cost < uint64(bcrypt.MinCost) || cost > uint64(lim.bcryptCost) {
		return nil, malformed(scheme, "cost %d is outside %d..%d", cost, bcrypt.MinCost, lim.bcryptCost)
	}
	stored := []byte(encoded)
	return &parsed{scheme: scheme, match: func(password []byte) (bool, error) {
		if len(password) > BcryptMaxPasswordBytes {
			return false, nil
		}
		switch err := bcrypt.CompareHashAndPassword(stored, password); {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, fmt.Errorf("bcrypt: %w", err)
		}
	}}, nil
}

// cryptMatcher adapts a go-crypt digest.
func cryptMatcher(scheme string, d algorithm.Digest) matcher {
	return func(password []byte) (bool, error) {
		ok, err := d.MatchBytesAdvanced(password)
		if err != nil {
			return false, fmt.Errorf("%s: %w", scheme, err)
		}
		return ok, nil
	}
}

// parseMD5Crypt decodes "$1$<salt up to 8>$<22 characters>" (Kratos'
// "$md5-crypt$…" arrives rewritten to "$1$…").
func parseMD5Crypt(encoded string) (*parsed, error) {
	const scheme = "md5-crypt"
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || len(parts[2]) > 8 || len(parts[3]) != 22 || !inCryptAlphabet(parts[2]+parts[3]) {
		return nil, malformed(scheme, "want $1$<salt of at most 8 characters>$<22 characters>")
	}
	d, err := md5crypt.Decode(encoded)
	if err != nil {
		return nil, malformed(scheme, "%v", err)
	}
	return &parsed{scheme: scheme, match: cryptMatcher(scheme, d)}, nil
}

// parseSHACrypt decodes "$5$[rounds=N$]<salt up to 16>$<hash>" and the
// "$6$" form (Kratos' "$sha256-crypt$" and "$sha512-crypt$" arrive
// rewritten). Rounds are checked here because go-crypt accepts up to 2^32.
// SHA-crypt's work grows with rounds × password length, so passwords over
// shaCryptMaxPasswordBytes are refused with ErrPasswordTooLong.
func parseSHACrypt(scheme, encoded string, lim *limits) (*parsed, error) {
	hashLen := 43
	if scheme == "sha512-crypt" {
		hashLen = 86
	}
	parts := strings.Split(encoded, "$")
	if len(parts) == 5 {
		r, ok := strings.CutPrefix(parts[2], "rounds=")
		if !ok {
			return nil, malformed(scheme, "want rounds=<n>, got %q", parts[2])
		}
		rounds, err := parseDecimal(r, lim.shaCryptRounds)
		if err != nil {
			return nil, malformed(scheme, "rounds: %v", err)
		}
		if rounds < 1000 {
			return nil, malformed(scheme, "rounds %d are below the minimum of 1000", rounds)
		}
		parts = append(parts[:2], parts[3:]...)
	}
	if len(parts) != 4 || len(parts[2]) > 16 || len(parts[3]) != hashLen || !inCryptAlphabet(parts[2]+parts[3]) {
		return nil, malformed(scheme, "want $%s$[rounds=<n>$]<salt of at most 16 characters>$<%d characters>", encoded[1:2], hashLen)
	}
	d, err := shacrypt.Decode(encoded)
	if err != nil {
		return nil, malformed(scheme, "%v", err)
	}
	match := cryptMatcher(scheme, d)
	return &parsed{scheme: scheme, match: func(password []byte) (bool, error) {
		if len(password) > shaCryptMaxPasswordBytes {
			return false, fmt.Errorf("%s: %w: %d bytes, the limit for this scheme is %d", scheme, ErrPasswordTooLong, len(password), shaCryptMaxPasswordBytes)
		}
		return match(password)
	}}, nil
}
