package password

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// limits caps the parameters read from a stored hash. Tests lower them.
type limits struct {
	argon2Memory      uint64 // KiB
	argon2Iterations  uint64
	argon2Work        uint64 // KiB × passes
	bcryptCost        int
	pbkdf2Work        uint64 // iterations × output blocks
	scryptMemory      uint64 // bytes
	scryptWork        uint64 // N·r·p
	firescryptLogN    uint64
	shaCryptRounds    uint64
	maxEncodedLength  int
	maxPasswordLength int
}

var defaultLimits = limits{
	argon2Memory:      maxArgon2Memory,
	argon2Iterations:  maxArgon2Iterations,
	argon2Work:        maxArgon2Work,
	bcryptCost:        maxBcryptCost,
	pbkdf2Work:        maxPBKDF2Work,
	scryptMemory:      maxScryptMemory,
	scryptWork:        maxScryptWork,
	firescryptLogN:    maxFirescryptLogN,
	shaCryptRounds:    maxShaCryptRounds,
	maxEncodedLength:  maxEncodedLength,
	maxPasswordLength: MaxPasswordBytes,
}

// matcher computes the hash of password with the parameters of a parsed
// stored hash and reports, in constant time, whether the two agree. An
// error means the computation itself failed (never a mismatch).
type matcher func(password []byte) (bool, error)

// parsed is a stored hash whose format was recognised and whose parameters
// are within limits.
type parsed struct {
	scheme string
	match  matcher
}

// malformed builds an ErrMalformed error naming the scheme.
func malformed(scheme, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, scheme, fmt.Sprintf(format, args...))
}

// parse recognises the format of encoded, decodes it and checks its
// parameters against lim. It computes no hash.
func parse(encoded string, lim *limits) (*parsed, error) {
	if encoded == "" {
		return nil, fmt.Errorf("%w: the hash is empty", ErrUnknownFormat)
	}
	if len(encoded) > lim.maxEncodedLength {
		return nil, fmt.Errorf("%w: the hash is %d bytes long, more than the limit of %d", ErrMalformed, len(encoded), lim.maxEncodedLength)
	}
	for i := 0; i < len(encoded); i++ {
		if c := encoded[i]; c <= ' ' || c > '~' {
			return nil, fmt.Errorf("%w: the hash contains a byte that is not printable ASCII at offset %d", ErrMalformed, i)
		}
	}

	if encoded[0] == '{' {
		end := strings.IndexByte(encoded, '}')
		if end < 0 {
			return nil, fmt.Errorf("%w: unterminated {scheme} prefix", ErrUnknownFormat)
		}
		switch encoded[1:end] {
		case "SSHA", "SSHA256", "SSHA512":
			return parseSSHA(encoded[1:end], encoded[end+1:])
		}
		return nil, fmt.Errorf("%w: scheme %q", ErrUnknownFormat, encoded[:end+1])
	}

	if encoded[0] != '$' {
		return nil, fmt.Errorf("%w: the hash starts with neither $ nor {", ErrUnknownFormat)
	}
	end := strings.IndexByte(encoded[1:], '$')
	if end < 0 {
		return nil, fmt.Errorf("%w: no $ after the scheme identifier", ErrUnknownFormat)
	}
	id := encoded[1 : 1+end]
	switch id {
	case "2", "2a", "2b", "2y", "2z":
		return parseBcrypt(encoded, lim)
	case "argon2id", "argon2i":
		return parseArgon2(id, encoded, lim)
	case "pbkdf2-sha1", "pbkdf2-sha224", "pbkdf2-sha256", "pbkdf2-sha384", "pbkdf2-sha512":
		return parsePBKDF2(id, encoded, lim)
	case "scrypt":
		return parseScrypt(encoded, lim)
	case "firescrypt":
		return parseFirescrypt(encoded, lim)
	case "sha1", "sha256", "sha512":
		return parseSaltedSHA(id, encoded)
	case "md5":
		return parseMD5(encoded)
	case "hmac-md4", "hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512":
		return parseHMAC(id, encoded)
	case "1", "md5-crypt":
		return parseMD5Crypt("$1" + encoded[1+end:])
	case "5", "sha256-crypt":
		return parseSHACrypt("sha256-crypt", "$5"+encoded[1+end:], lim)
	case "6", "sha512-crypt":
		return parseSHACrypt("sha512-crypt", "$6"+encoded[1+end:], lim)
	}
	return nil, fmt.Errorf("%w: scheme %q", ErrUnknownFormat, "$"+id+"$")
}

// parseParams parses "k1=v1,k2=v2,…" where the keys are exactly keys, in
// that order, and every value is a decimal number without sign of at most
// max.
func parseParams(scheme, s string, max uint64, keys ...string) ([]uint64, error) {
	fields := strings.Split(s, ",")
	if len(fields) != len(keys) {
		return nil, malformed(scheme, "want parameters %s=…, got %q", strings.Join(keys, "=…,"), s)
	}
	vals := make([]uint64, len(keys))
	for i, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k != keys[i] {
			return nil, malformed(scheme, "want parameter %s=…, got %q", keys[i], f)
		}
		n, err := parseDecimal(v, max)
		if err != nil {
			return nil, malformed(scheme, "parameter %s: %v", k, err)
		}
		vals[i] = n
	}
	return vals, nil
}

// parseDecimal parses a non-empty run of ASCII digits whose value is at most
// max.
func parseDecimal(s string, max uint64) (uint64, error) {
	if s == "" || len(s) > 20 {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("%s exceeds the limit of %d", s, max)
	}
	return n, nil
}

var (
	stdB64    = base64.StdEncoding.Strict()
	rawStdB64 = base64.RawStdEncoding.Strict()
)

// decodeB64 decodes a field, naming it in the error.
func decodeB64(enc *base64.Encoding, scheme, field, s string) ([]byte, error) {
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, malformed(scheme, "%s is not valid base64: %v", field, err)
	}
	return b, nil
}

// equal compares two byte strings in constant time (for equal lengths).
func equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
