package password

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1" //nolint:gosec // imported legacy hashes
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"fmt"
	"hash"
	"math"
	"math/bits"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/scrypt"
)

// argon2Hash is a decoded "$argon2id$v=19$m=…,t=…,p=…$salt$key" (or argon2i).
type argon2Hash struct {
	variant     string // "argon2id" or "argon2i"
	memory      uint32 // KiB
	iterations  uint32
	parallelism uint8
	salt, key   []byte
}

// decodeArgon2 decodes a PHC argon2 string (RFC 9106 parameters, base64
// without padding, as Kratos and the reference implementation write it)
// and checks its parameters against lim.
func decodeArgon2(variant, encoded string, lim *limits) (*argon2Hash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return nil, malformed(variant, "want $%s$v=19$m=…,t=…,p=…$salt$key, got %d $-separated fields", variant, len(parts)-1)
	}
	if parts[2] != "v=19" {
		return nil, malformed(variant, "unsupported version %q, only v=19 is supported", parts[2])
	}
	v, err := parseParams(variant, parts[3], math.MaxUint32, "m", "t", "p")
	if err != nil {
		return nil, err
	}
	m, t, p := v[0], v[1], v[2]
	switch {
	case p < 1 || p > 255:
		return nil, malformed(variant, "parallelism %d is outside 1..255", p)
	case t < 1 || t > lim.argon2Iterations:
		return nil, malformed(variant, "iterations %d are outside 1..%d", t, lim.argon2Iterations)
	case m < 8*p:
		return nil, malformed(variant, "memory %d KiB is less than 8 KiB for each of %d lanes", m, p)
	case m > lim.argon2Memory:
		return nil, malformed(variant, "memory %d KiB exceeds the limit of %d KiB", m, lim.argon2Memory)
	case m*t > lim.argon2Work:
		return nil, malformed(variant, "memory × iterations %d KiB exceeds the limit of %d KiB", m*t, lim.argon2Work)
	}
	salt, err := decodeB64(rawStdB64, variant, "salt", parts[4])
	if err != nil {
		return nil, err
	}
	if len(salt) < 1 || len(salt) > maxSaltBytes {
		return nil, malformed(variant, "salt length %d is outside 1..%d bytes", len(salt), maxSaltBytes)
	}
	key, err := decodeB64(rawStdB64, variant, "key", parts[5])
	if err != nil {
		return nil, err
	}
	if len(key) < 4 || len(key) > maxKeyBytes {
		return nil, malformed(variant, "key length %d is outside 4..%d bytes", len(key), maxKeyBytes)
	}
	return &argon2Hash{
		variant: variant, memory: uint32(m), iterations: uint32(t), parallelism: uint8(p),
		salt: salt, key: key,
	}, nil
}

func parseArgon2(variant, encoded string, lim *limits) (*parsed, error) {
	h, err := decodeArgon2(variant, encoded, lim)
	if err != nil {
		return nil, err
	}
	return &parsed{scheme: variant, match: func(password []byte) (bool, error) {
		var k []byte
		if h.variant == "argon2id" {
			k = argon2.IDKey(password, h.salt, h.iterations, h.memory, h.parallelism, uint32(len(h.key)))
		} else {
			k = argon2.Key(password, h.salt, h.iterations, h.memory, h.parallelism, uint32(len(h.key)))
		}
		return equal(k, h.key), nil
	}}, nil
}

// parsePBKDF2 decodes Kratos' "$pbkdf2-<digest>$i=<iterations>,l=<length>$salt$key"
// (base64 without padding). Like Kratos, the derived key is as long as the
// stored one; l= must be a number but is otherwise not used.
//
// Kratos' own pbkdf2 hasher uses SHA3-224 and SHA3-384 for "sha224" and
// "sha384", while other systems mean SHA-224 and SHA-384; both readings are
// tried, so hashes from either source verify.
func parsePBKDF2(id, encoded string, lim *limits) (*parsed, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 5 {
		return nil, malformed(id, "want $%s$i=…,l=…$salt$key, got %d $-separated fields", id, len(parts)-1)
	}
	v, err := parseParams(id, parts[2], math.MaxInt32, "i", "l")
	if err != nil {
		return nil, err
	}
	iter := v[0]
	if iter < 1 {
		return nil, malformed(id, "iterations must be at least 1")
	}
	salt, err := decodeB64(rawStdB64, id, "salt", parts[3])
	if err != nil {
		return nil, err
	}
	key, err := decodeB64(rawStdB64, id, "key", parts[4])
	if err != nil {
		return nil, err
	}
	if len(key) < 1 || len(key) > 256 || len(salt) > maxSaltBytes {
		return nil, malformed(id, "key length %d must be within 1..256 and salt length %d at most %d bytes", len(key), len(salt), maxSaltBytes)
	}
	var prfs []func() hash.Hash
	switch id {
	case "pbkdf2-sha1":
		prfs = []func() hash.Hash{sha1.New}
	case "pbkdf2-sha224":
		prfs = []func() hash.Hash{sha256.New224, func() hash.Hash { return sha3.New224() }}
	case "pbkdf2-sha256":
		prfs = []func() hash.Hash{sha256.New}
	case "pbkdf2-sha384":
		prfs = []func() hash.Hash{sha512.New384, func() hash.Hash { return sha3.New384() }}
	case "pbkdf2-sha512":
		prfs = []func() hash.Hash{sha512.New}
	}
	var work uint64
	for _, prf := range prfs {
		size := prf().Size()
		work += iter * uint64((len(key)+size-1)/size)
	}
	if work > lim.pbkdf2Work {
		return nil, malformed(id, "%d iterations for a %d-byte key exceed the work limit of %d", iter, len(key), lim.pbkdf2Work)
	}
	return &parsed{scheme: id, match: func(password []byte) (bool, error) {
		ok := false
		for _, prf := range prfs {
			k, err := pbkdf2.Key(prf, string(password), salt, int(iter), len(key))
			if err != nil {
				return false, fmt.Errorf("%s: %w", id, err)
			}
			ok = equal(k, key) || ok // evaluate every reading
		}
		return ok, nil
	}}, nil
}

// scryptParams checks scrypt's N, r, p against its own rules and lim.
func scryptParams(scheme string, n, r, p uint64, lim *limits) error {
	switch {
	case n < 2 || bits.OnesCount64(n) != 1:
		return malformed(scheme, "cost N=%d is not a power of two greater than 1", n)
	case r < 1 || p < 1:
		return malformed(scheme, "r=%d and p=%d must be at least 1", r, p)
	case r*p >= 1<<30:
		return malformed(scheme, "r×p = %d is too large", r*p)
	case 128*n*r > lim.scryptMemory:
		return malformed(scheme, "N=%d, r=%d need %d bytes, more than the limit of %d", n, r, 128*n*r, lim.scryptMemory)
	case n*r*p > lim.scryptWork:
		return malformed(scheme, "N×r×p = %d exceeds the work limit of %d", n*r*p, lim.scryptWork)
	}
	return nil
}

// parseScrypt decodes Kratos' "$scrypt$ln=<N>,r=<r>,p=<p>$salt$key" with
// padded base64. Unlike passlib, Kratos writes the cost N itself in ln=
// (e.g. ln=16384), not its logarithm; so do we.
func parseScrypt(encoded string, lim *limits) (*parsed, error) {
	const scheme = "scrypt"
	parts := strings.Split(encoded, "$")
	if len(parts) != 5 {
		return nil, malformed(scheme, "want $scrypt$ln=…,r=…,p=…$salt$key, got %d $-separated fields", len(parts)-1)
	}
	v, err := parseParams(scheme, parts[2], math.MaxInt32, "ln", "r", "p")
	if err != nil {
		return nil, err
	}
	n, r, p := v[0], v[1], v[2]
	if err := scryptParams(scheme, n, r, p, lim); err != nil {
		return nil, err
	}
	salt, err := decodeB64(stdB64, scheme, "salt", parts[3])
	if err != nil {
		return nil, err
	}
	key, err := decodeB64(stdB64, scheme, "key", parts[4])
	if err != nil {
		return nil, err
	}
	if len(key) < 1 || len(key) > 256 || len(salt) > maxSaltBytes {
		return nil, malformed(scheme, "key length %d must be within 1..256 and salt length %d at most %d bytes", len(key), len(salt), maxSaltBytes)
	}
	return &parsed{scheme: scheme, match: func(password []byte) (bool, error) {
		k, err := scrypt.Key(password, salt, int(n), int(r), int(p), len(key))
		if err != nil {
			return false, fmt.Errorf("scrypt: %w", err)
		}
		return equal(k, key), nil
	}}, nil
}

// parseFirescrypt decodes Firebase's modified scrypt as Kratos writes it:
// "$firescrypt$ln=<log2 N>,r=<r>,p=<p>$salt$hash$salt-separator$signer-key",
// all padded base64. The password hash is the signer key encrypted with
// AES-256-CTR (zero IV) under scrypt(password, salt‖separator, 2^ln, r, p, 32).
func parseFirescrypt(encoded string, lim *limits) (*parsed, error) {
	const scheme = "firescrypt"
	parts := strings.Split(encoded, "$")
	if len(parts) != 7 {
		return nil, malformed(scheme, "want $firescrypt$ln=…,r=…,p=…$salt$hash$separator$signer-key, got %d $-separated fields", len(parts)-1)
	}
	v, err := parseParams(scheme, parts[2], math.MaxInt32, "ln", "r", "p")
	if err != nil {
		return nil, err
	}
	logN, r, p := v[0], v[1], v[2]
	if logN < 1 || logN > lim.firescryptLogN {
		return nil, malformed(scheme, "ln=%d is outside 1..%d", logN, lim.firescryptLogN)
	}
	n := uint64(1) << logN
	if err := scryptParams(scheme, n, r, p, lim); err != nil {
		return nil, err
	}
	var fields [4][]byte
	for i, name := range []string{"salt", "hash", "salt separator", "signer key"} {
		if fields[i], err = decodeB64(stdB64, scheme, name, parts[3+i]); err != nil {
			return nil, err
		}
	}
	salt, hashed, sep, signer := fields[0], fields[1], fields[2], fields[3]
	if len(hashed) == 0 || len(hashed) != len(signer) || len(hashed) > 256 {
		return nil, malformed(scheme, "hash (%d bytes) and signer key (%d bytes) must have the same length, 1..256", len(hashed), len(signer))
	}
	if len(salt)+len(sep) > maxSaltBytes {
		return nil, malformed(scheme, "salt and separator are longer than %d bytes", maxSaltBytes)
	}
	saltSep := append(append([]byte{}, salt...), sep...)
	return &parsed{scheme: scheme, match: func(password []byte) (bool, error) {
		k, err := scrypt.Key(password, saltSep, int(n), int(r), int(p), 32)
		if err != nil {
			return false, fmt.Errorf("firescrypt: %w", err)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return false, fmt.Errorf("firescrypt: %w", err)
		}
		out := make([]byte, len(signer))
		cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(out, signer)
		return equal(out, hashed), nil
	}}, nil
}
