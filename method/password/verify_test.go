package password

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// cheapParams keep tests fast: argon2id with 64 KiB and one pass, bcrypt
// cost 4.
func cheapParams(alg Algorithm) Params {
	return Params{
		Algorithm:  alg,
		Argon2:     Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		BcryptCost: 4,
	}
}

func newTestHasher(t testing.TB, alg Algorithm) *Hasher {
	t.Helper()
	h, err := NewHasher(cheapParams(alg), nil)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestVerifyKnownAnswers(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, AlgorithmArgon2)
	for _, tc := range knownAnswers {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, err := Scheme(tc.encoded); err != nil || got != tc.scheme {
				t.Errorf("Scheme = %q, %v; want %q", got, err, tc.scheme)
			}
			if err := h.Verify(t.Context(), []byte(tc.password), tc.encoded); err != nil {
				t.Errorf("Verify(right password) from %s = %v, want nil", tc.source, err)
			}
			for _, wrong := range []string{tc.password + "x", ""} {
				if err := h.Verify(t.Context(), []byte(wrong), tc.encoded); !errors.Is(err, ErrMismatch) {
					t.Errorf("Verify(%q) = %v, want ErrMismatch", wrong, err)
				}
			}
		})
	}
}

// TestVerifyKnownMismatches holds hashes that are well-formed but belong to
// other passwords (most are Kratos' own negative cases).
func TestVerifyKnownMismatches(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, AlgorithmArgon2)
	tests := []struct {
		name, encoded, password string
	}{
		{"bcrypt/last-char", "$2a$12$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF/WaCGNVHbkfL7", pwKratos},
		{"argon2i/other-hash", "$argon2i$v=19$m=65536,t=3,p=4$pZ+27D6B0bCi0DwSmANF1w$4RNCUu4Uyu7eTIvzIdSuKz+I9idJlX/ykn6J10/W0EU", pwKratos},
		// Kratos' "bad salt"/"bad key" cases: still valid base64 (33 bytes),
		// so they are well-formed hashes of something else.
		{"pbkdf2/longer-salt", "$pbkdf2-sha256$i=100000,l=32$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXcc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpI", pwKratos},
		{"pbkdf2/longer-key", "$pbkdf2-sha256$i=100000,l=32$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpII", pwKratos},
		{"sha1/wrong-salt", "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$cDJvb3ZrZGJ6cQ==$2qU2SGWP8viTM1md3FiI3+rjWXQ=", pwKratos},
		{"md5/other", "$md5$WhBei51A4TKXgNYuoiZdig==", pwKratos},
		{"md5/salted-other", "$md5$pf=e1NBTFR9e1BBU1NXT1JEfQ==$MTIz$hh8ZTp1hGPPZQqcr4+UXSQ==", pwKratos},
		{"hmac-md5/wrong-key", "$hmac-md5$ZmU4Njk3Zjc0MmQwODA0MDVkMTI3MGU2MTYzMzE2Zjk=$MTIzNA==", pwKratos},
		{"hmac-md5/empty-key", "$hmac-md5$ZmU4Njk3Zjc0MmQwODA0MDVkMTI3MGU2MTYzMzE2Zjk=$", pwKratos},
		{"md5-crypt/other", "$md5-crypt$xWMlm2eL$GGTOpgZu4p2k6ORprAu3b.", pwKratos},
		{"sha256-crypt/other", "$sha256-crypt$rounds=535000$awpcR7lDlnK/S7WE$vHU7KkQwyjfGz6u4MUi7.lH9htK/l63HloTsX1ZMz.3", pwKratos},
		{"sha256-crypt/as-sha512", "$6$rounds=535000$awpcR7lDlnK/S7WE$vHU7KkQwyjfGz6u4MUi7.lH9htK/l63HloTsX1ZMz.3vHU7KkQwyjfGz6u4MUi7.lH9htK/l63HloTsX1ZMz.3", pwKratosOry},
		// bcrypt reads only 72 bytes; a longer password that shares them
		// must not match.
		{"bcrypt/73-bytes-sharing-72", "$2y$04$k8RoX2U2YBWaIUPK6BgQoOmuL1UrWSzO8JTTk0S0SpxttPAEkMVqe", pw72 + "X"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := h.Verify(t.Context(), []byte(tc.password), tc.encoded); !errors.Is(err, ErrMismatch) {
				t.Errorf("Verify = %v, want ErrMismatch", err)
			}
		})
	}
}

// TestVerifyRejectsMalformed checks that damaged hashes and absurd
// parameters are refused with a descriptive error before any expensive
// work: each case must come back well under a second.
func TestVerifyRejectsMalformed(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, AlgorithmArgon2)
	b53 := strings.Repeat("a", 53)
	tests := []struct {
		name, encoded string
		want          error
	}{
		{"empty", "", ErrUnknownFormat},
		{"plaintext", "hunter2", ErrUnknownFormat},
		{"unknown scheme", "$unknown$12$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF/WaCGNVHbkfL6", ErrUnknownFormat},
		{"no second dollar", "$argon2id", ErrUnknownFormat},
		{"argon2d unsupported", "$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", ErrUnknownFormat},
		{"ldap SHA unsalted unsupported", "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", ErrUnknownFormat},
		{"ldap unknown brace", "{SSHAnotExistent}xPUl/px+1cG55rUH4rzcwxdOIPSB2TingLpiJJumN2xyDWN4Ix1WQG3ihnvHaWUE8MYNkvMi5rf0C9NYixHsE6Yh59M=", ErrUnknownFormat},
		{"unterminated brace", "{SSHA", ErrUnknownFormat},
		{"sha unknown", "$shaNotExistent$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$6ctp", ErrUnknownFormat},
		{"hmac without digest", "$hmac$ZmU4Njk3Zjc0MmQwODA0MDVkMTI3MGU2MTYzMzE2Zjk=$MTIzNDU=", ErrUnknownFormat},
		{"hmac invalid digest", "$hmac-invalid$ZmU4Njk3Zjc0MmQwODA0MDVkMTI3MGU2MTYzMzE2Zjk=$MTIzNDU=", ErrUnknownFormat},
		{"pbkdf2 unknown digest", "$pbkdf2-md5$i=1000,l=32$c2FsdA$aGFzaA", ErrUnknownFormat},

		{"too long", "$md5$" + strings.Repeat("A", 2000), ErrMalformed},
		{"control byte", "$md5$CY9rzUYh03PK3k6D\nJie09g==", ErrMalformed},
		{"space", "$md5$CY9rzUYh03PK3k6D Jie09g==", ErrMalformed},

		{"argon2 memory 2^32-1 KiB", "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 memory 2^32 KiB", "$argon2id$v=19$m=4294967296,t=1,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 memory 2 GiB", "$argon2id$v=19$m=2097152,t=1,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 memory × passes", "$argon2id$v=19$m=1048576,t=8,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 iterations 2^32-1", "$argon2id$v=19$m=64,t=4294967295,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 iterations 0", "$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 parallelism 0", "$argon2id$v=19$m=64,t=1,p=0$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 parallelism 256", "$argon2id$v=19$m=4096,t=1,p=256$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 memory below 8 per lane", "$argon2id$v=19$m=8,t=1,p=4$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 negative memory", "$argon2id$v=19$m=-64,t=1,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 version 16", "$argon2id$v=16$m=64,t=2,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 no version", "$argon2id$m=64,t=2,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 params reordered", "$argon2id$v=19$t=2,m=64,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 truncated", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHR2YWx1ZTEyMw", ErrMalformed},
		{"argon2 bad base64 salt", "$argon2id$v=19$m=64,t=2,p=1$c29tZX*hbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 padded base64", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHR2YWx1ZTEyMw==$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw", ErrMalformed},
		{"argon2 key too short", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHR2YWx1ZTEyMw$AAA", ErrMalformed},

		{"bcrypt cost 40", "$2a$40$" + b53, ErrMalformed},
		{"bcrypt cost 31", "$2b$31$" + b53, ErrMalformed},
		{"bcrypt cost 17", "$2b$17$" + b53, ErrMalformed},
		{"bcrypt cost 3", "$2a$03$" + b53, ErrMalformed},
		{"bcrypt one-digit cost", "$2a$4$" + b53, ErrMalformed},
		{"bcrypt truncated", "$2a$04$" + b53[:52], ErrMalformed},
		{"bcrypt bad alphabet", "$2a$04$" + b53[:52] + "+", ErrMalformed},
		{"bcrypt kratos garbage", "$2a$", ErrMalformed},

		// Kratos' "last character changed" cases: with strict base64 the
		// changed final character leaves non-zero padding bits.
		{"argon2 last char", "$argon2id$v=19$m=32,t=2,p=4$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRN2", ErrMalformed},
		{"pbkdf2 last char", "$pbkdf2-sha256$i=100000,l=32$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpp", ErrMalformed},
		{"scrypt last char", "$scrypt$ln=16384,r=8,p=1$2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYF=", ErrMalformed},
		{"pbkdf2 2^31 iterations", "$pbkdf2-sha256$i=2147483647,l=32$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpI", ErrMalformed},
		{"pbkdf2 zero iterations", "$pbkdf2-sha256$i=0,l=32$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpI", ErrMalformed},
		{"pbkdf2 no params", "$pbkdf2-sha256$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpI", ErrMalformed},
		{"pbkdf2 garbage params", "$pbkdf2-sha256$aaaa$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpI", ErrMalformed},
		{"pbkdf2 capital I", "$pbkdf2-sha512$I=100000,l=32$bdHBpn7OWOivJMVJypy2UqR0UnaD5prQXRZevj/05YU$+wArTfv1a+bNGO1iZrmEdVjhA+lL11wF4/IxpgYfPwc", ErrMalformed},

		{"scrypt N not power of two", "$scrypt$ln=16385,r=8,p=1$2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE=", ErrMalformed},
		{"scrypt N 2^30", "$scrypt$ln=1073741824,r=8,p=1$2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE=", ErrMalformed},
		{"scrypt huge p", "$scrypt$ln=16384,r=8,p=100000$2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE=", ErrMalformed},
		{"scrypt ln not a number", "$scrypt$ln=abc,r=8,p=1$2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE=", ErrMalformed},
		{"scrypt no params", "$scrypt$2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE=", ErrMalformed},
		{"scrypt bad salt", "$scrypt$ln=16384,r=8,p=1$(2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE=", ErrMalformed},

		{"firescrypt ln 40", "$firescrypt$ln=40,r=8,p=1$sPtDhWcd1MfdAw==$xbSo$Bw==$YE0d", ErrMalformed},
		{"firescrypt lengths differ", "$firescrypt$ln=14,r=8,p=1$sPtDhWcd1MfdAw==$xbSou7FO$Bw==$YE0dO4bwD4Jn", ErrMalformed},
		{"firescrypt truncated", "$firescrypt$ln=14,r=8,p=1$sPtDhWcd1MfdAw==$xbSou7FO", ErrMalformed},

		{"ssha too short", "{SSHA}tooshort", ErrMalformed},
		{"ssha no salt", "{SSHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", ErrMalformed},
		{"sha empty pf", "$sha1$pf=$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ=", ErrMalformed},
		{"sha no pf", "$sha1$$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ=", ErrMalformed},
		{"sha too few fields", "$sha1$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ=", ErrMalformed},
		{"sha salt not base64", "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$5opmkgz03r$2qU2SGWP8viTM1md3FiI3+rjWXQ=", ErrMalformed},
		{"sha hash wrong size", "$sha256$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ=", ErrMalformed},
		{"md5 empty", "$md5$$", ErrMalformed},
		{"md5 empty fields", "$md5$$$", ErrMalformed},
		{"md5 empty pf", "$md5$pf=$$", ErrMalformed},
		{"md5 bad hash", "$md5$pf=MTIz$MTIz$Z", ErrMalformed},
		{"hmac missing key", "$hmac-md5$ZmU4Njk3Zjc0MmQwODA0MDVkMTI3MGU2MTYzMzE2Zjk=", ErrMalformed},
		{"hmac missing mac", "$hmac-md5$MTIzNDU=", ErrMalformed},
		{"hmac empty mac", "$hmac-md5$$MTIzNDU=", ErrMalformed},
		{"hmac mac not hex", "$hmac-md5$ejAzMWJhMWMyOTM4YjFkMjgzZjkxOWExZGY5YWM2NmM=$MTIzNDU=", ErrMalformed},

		{"md5-crypt missing salt section", "$md5-crypt$whuMjZj.HMFoaTaZRRtkO0", ErrMalformed},
		{"md5-crypt empty", "$md5-crypt$$", ErrMalformed},
		{"md5-crypt salt too long", "$1$saltsaltX$NuzA7WTAelpl95xgBGWN60", ErrMalformed},
		{"sha256-crypt empty", "$sha256-crypt$$", ErrMalformed},
		{"sha512-crypt empty", "$sha512-crypt$$$", ErrMalformed},
		{"sha512-crypt max rounds", "$6$rounds=999999999$3LVbIAVxR//cRajw$uuNasMW.RYxlGzIRFU1Was70BPSa933AjxhZIGJdJBOlqJAHlgqa0yuiuq5JHF/ryNGryJkj87G9i3G2HPSXg1", ErrMalformed},
		{"sha512-crypt 2^32 rounds", "$6$rounds=4294967296$3LVbIAVxR//cRajw$uuNasMW.RYxlGzIRFU1Was70BPSa933AjxhZIGJdJBOlqJAHlgqa0yuiuq5JHF/ryNGryJkj87G9i3G2HPSXg1", ErrMalformed},
		{"sha256-crypt rounds below 1000", "$5$rounds=10$Ns3yH0PRz/1q$U24XrJxJ9THujaEZAS9Z73SKlrqr/KQDW7pOqGGgIa7", ErrMalformed},
		{"sha256-crypt bad param", "$5$round=5000$Ns3yH0PRz/1q$U24XrJxJ9THujaEZAS9Z73SKlrqr/KQDW7pOqGGgIa7", ErrMalformed},
		{"sha256-crypt hash too short", "$5$abcdefgh12345678$9unobV54z8E2.elrCkc7/lqq8s/w188FUsdcHCxVP1", ErrMalformed},
		{"sha256-crypt salt too long", "$5$abcdefgh12345678X$9unobV54z8E2.elrCkc7/lqq8s/w188FUsdcHCxVP19", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err := h.Verify(t.Context(), []byte("test"), tc.encoded)
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("Verify took %v; a malformed hash must be refused before any work", elapsed)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if errors.Is(err, ErrMismatch) {
				t.Errorf("Verify = %v, must not also be ErrMismatch", err)
			}
			if _, serr := Scheme(tc.encoded); !errors.Is(serr, tc.want) {
				t.Errorf("Scheme error = %v, want %v", serr, tc.want)
			}
			t.Logf("%v", err)
		})
	}
}
