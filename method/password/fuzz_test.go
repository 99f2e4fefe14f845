package password

import (
	"context"
	"errors"
	"testing"
)

// fuzzLimits are tighter than the defaults so that every input the fuzzer
// builds is cheap to verify; the parser paths are the same.
var fuzzLimits = limits{
	argon2Memory:      256,
	argon2Iterations:  4,
	argon2Work:        512,
	bcryptCost:        5,
	pbkdf2Work:        5_000,
	scryptMemory:      1 << 20,
	scryptWork:        1 << 13,
	firescryptLogN:    10,
	shaCryptRounds:    5_000,
	maxEncodedLength:  maxEncodedLength,
	maxPasswordLength: MaxPasswordBytes,
}

// FuzzVerify feeds arbitrary stored hashes and passwords to Verify: it must
// never panic, and must answer nil, ErrMismatch or one of the documented
// errors. A hash Scheme refuses must be refused by Verify the same way.
func FuzzVerify(f *testing.F) {
	for _, ka := range knownAnswers {
		f.Add(ka.encoded, []byte(ka.password))
	}
	for _, s := range []string{
		"", "$", "$$", "$$$", "{", "{}", "{SSHA}", "$2a$", "$2a$04$", "$argon2id$v=19$m=,t=,p=$$",
		"$pbkdf2-sha256$i=1,l=1$$", "$scrypt$ln=2,r=1,p=1$$", "$firescrypt$ln=1,r=1,p=1$$$$",
		"$sha1$pf=$$", "$md5$", "$hmac-sha1$$", "$1$$", "$5$rounds=$$", "$6$$$",
		"$md5-crypt$$", "$sha256-crypt$rounds=1000$$", "$sha512-crypt$$$$",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$AAAA$AAAAAA",
		"$2b$99$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	} {
		f.Add(s, []byte("test"))
	}
	h, err := NewHasher(cheapParams(AlgorithmArgon2), nil)
	if err != nil {
		f.Fatal(err)
	}
	h.lim = &fuzzLimits
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, encoded string, password []byte) {
		err := h.Verify(ctx, password, encoded)
		switch {
		case err == nil, errors.Is(err, ErrMismatch), errors.Is(err, ErrMalformed),
			errors.Is(err, ErrUnknownFormat), errors.Is(err, ErrPasswordTooLong):
		default:
			t.Fatalf("Verify(%q) = %v: not a documented error", encoded, err)
		}
		if _, perr := parse(encoded, &fuzzLimits); perr != nil {
			if err == nil || errors.Is(err, ErrMismatch) {
				t.Fatalf("parse(%q) = %v but Verify = %v", encoded, perr, err)
			}
		}
		_ = h.NeedsRehash(encoded)
	})
}
