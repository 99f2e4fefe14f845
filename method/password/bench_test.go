package password

import (
	"context"
	"testing"
)

// The benchmarks use the production defaults (DefaultParams), not the
// cheap test parameters: they measure what a login or registration costs.

func benchHasher(b *testing.B, alg Algorithm) *Hasher {
	b.Helper()
	p := DefaultParams()
	p.Algorithm = alg
	h, err := NewHasher(p, nil)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func BenchmarkHash(b *testing.B) {
	for _, alg := range []Algorithm{AlgorithmArgon2, AlgorithmBcrypt} {
		b.Run(string(alg), func(b *testing.B) {
			h := benchHasher(b, alg)
			ctx := context.Background()
			password := []byte("correct horse battery staple")
			for b.Loop() {
				if _, err := h.Hash(ctx, password); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []Algorithm{AlgorithmArgon2, AlgorithmBcrypt} {
		b.Run(string(alg), func(b *testing.B) {
			h := benchHasher(b, alg)
			ctx := context.Background()
			password := []byte("correct horse battery staple")
			enc, err := h.Hash(ctx, password)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := h.Verify(ctx, password, enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyImported measures a few imported formats with their
// vectors' own parameters.
func BenchmarkVerifyImported(b *testing.B) {
	h := benchHasher(b, AlgorithmArgon2)
	ctx := context.Background()
	for _, ka := range knownAnswers {
		switch ka.name {
		case "pbkdf2-sha256/kratos", "scrypt/kratos", "sha512-crypt/kratos", "md5/kratos-plain", "ssha/kratos":
		default:
			continue
		}
		b.Run(ka.name, func(b *testing.B) {
			for b.Loop() {
				if err := h.Verify(ctx, []byte(ka.password), ka.encoded); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
