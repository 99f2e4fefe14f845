package password

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// repeatReader yields its pattern over and over: a predictable salt source.
type repeatReader struct{ pattern []byte }

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.pattern[i%len(r.pattern)]
	}
	return len(p), nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

// TestHashArgon2idMatchesReferenceCLI pins Hash's output, with an injected
// salt, to the argon2 reference implementation:
// echo -n 'correct horse' | argon2 somesaltvalue123 -id -t 2 -m 6 -p 1 -l 32 -e
func TestHashArgon2idMatchesReferenceCLI(t *testing.T) {
	t.Parallel()
	p := cheapParams(AlgorithmArgon2)
	p.Argon2.Iterations = 2
	h, err := NewHasher(p, repeatReader{[]byte("somesaltvalue123")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.Hash(t.Context(), []byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	const want = "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHR2YWx1ZTEyMw$OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw"
	if got != want {
		t.Errorf("Hash = %s\nwant  %s", got, want)
	}
}

func TestHashRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		alg      Algorithm
		password string
		prefix   string
	}{
		{"argon2id ascii", AlgorithmArgon2, "correct horse battery staple", "$argon2id$v=19$m=64,t=1,p=1$"},
		{"argon2id utf8", AlgorithmArgon2, "pässwörd ✓ 🔑", "$argon2id$v=19$m=64,t=1,p=1$"},
		{"argon2id empty", AlgorithmArgon2, "", "$argon2id$"},
		{"argon2id long", AlgorithmArgon2, strings.Repeat("a", MaxPasswordBytes-1), "$argon2id$"},
		{"bcrypt ascii", AlgorithmBcrypt, "correct horse battery staple", "$2a$04$"},
		{"bcrypt 72 bytes", AlgorithmBcrypt, pw72, "$2a$04$"},
		{"bcrypt utf8", AlgorithmBcrypt, "pässwörd ✓ 🔑", "$2a$04$"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newTestHasher(t, tc.alg)
			ctx := t.Context()
			enc, err := h.Hash(ctx, []byte(tc.password))
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if !strings.HasPrefix(enc, tc.prefix) {
				t.Errorf("Hash = %q, want prefix %q", enc, tc.prefix)
			}
			if err := h.Verify(ctx, []byte(tc.password), enc); err != nil {
				t.Errorf("Verify(right) = %v", err)
			}
			if err := h.Verify(ctx, []byte(tc.password+"x"), enc); !errors.Is(err, ErrMismatch) {
				t.Errorf("Verify(wrong) = %v, want ErrMismatch", err)
			}
			if h.NeedsRehash(enc) {
				t.Errorf("NeedsRehash(own hash) = true")
			}
			again, err := h.Hash(ctx, []byte(tc.password))
			if err != nil {
				t.Fatal(err)
			}
			if again == enc {
				t.Errorf("two hashes of one password are equal; the salt is not random")
			}
		})
	}
}

func TestHashRefusesLongPasswords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		alg  Algorithm
		n    int
	}{
		{"bcrypt 73 bytes", AlgorithmBcrypt, 73},
		{"argon2 over the limit", AlgorithmArgon2, MaxPasswordBytes + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newTestHasher(t, tc.alg)
			if _, err := h.Hash(t.Context(), bytes.Repeat([]byte("a"), tc.n)); !errors.Is(err, ErrPasswordTooLong) {
				t.Errorf("Hash = %v, want ErrPasswordTooLong", err)
			}
		})
	}
	h := newTestHasher(t, AlgorithmArgon2)
	enc, err := h.Hash(t.Context(), []byte("short"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Verify(t.Context(), bytes.Repeat([]byte("a"), MaxPasswordBytes+1), enc); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Verify(long) = %v, want ErrPasswordTooLong", err)
	}
	const sha512crypt = "$6$Zq9.Rm/2$Kk0akxtlVSFinNNXq1DubBg7KTNUPOV2nIV3mJlnjj7r3V2z2zhgL1yNRlm9Jz2UvYO3ERMYSIZ6r4kCTtW79/"
	if err := h.Verify(t.Context(), bytes.Repeat([]byte("a"), 257), sha512crypt); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Verify(257 bytes, sha512-crypt) = %v, want ErrPasswordTooLong", err)
	}
	if err := h.Verify(t.Context(), bytes.Repeat([]byte("a"), 256), sha512crypt); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(256 bytes, sha512-crypt) = %v, want ErrMismatch", err)
	}
}

func TestHashRandomFailure(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(cheapParams(AlgorithmArgon2), failingReader{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Hash(t.Context(), []byte("password")); err == nil || !strings.Contains(err.Error(), "entropy exhausted") {
		t.Errorf("Hash = %v, want the random source's error", err)
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	argon := newTestHasher(t, AlgorithmArgon2)
	bc := newTestHasher(t, AlgorithmBcrypt)
	const salt, key = "c29tZXNhbHR2YWx1ZTEyMw", "OxTHnyCmDigxzJ6G8486RvXWBFjOVPHj0YNHH5dSYjw"
	tests := []struct {
		name    string
		h       *Hasher
		encoded string
		want    bool
	}{
		{"argon2 same params", argon, "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key, false},
		{"argon2 other memory", argon, "$argon2id$v=19$m=128,t=1,p=1$" + salt + "$" + key, true},
		{"argon2 other iterations", argon, "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key, true},
		{"argon2 other parallelism", argon, "$argon2id$v=19$m=64,t=1,p=2$" + salt + "$" + key, true},
		{"argon2 other key length", argon, "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$MNzk5BtR2vUhrp6qQEjRNw", true},
		{"argon2 other salt length", argon, "$argon2id$v=19$m=64,t=1,p=1$YW5vdGhlcnNhbHQh$" + key, true},
		{"argon2i", argon, "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key, true},
		{"argon2 given bcrypt", argon, "$2a$04$eMbKkI7tavcTQjM6SfpkTuIxcUZqXi4IIXadruvt4wa8B0WVU8dNu", true},
		{"argon2 given imported md5", argon, "$md5$CY9rzUYh03PK3k6DJie09g==", true},
		{"argon2 given garbage", argon, "garbage", true},
		{"bcrypt same cost", bc, "$2b$04$eMbKkI7tavcTQjM6SfpkTuIxcUZqXi4IIXadruvt4wa8B0WVU8dNu", false},
		{"bcrypt 2y same cost", bc, "$2y$04$k8RoX2U2YBWaIUPK6BgQoOmuL1UrWSzO8JTTk0S0SpxttPAEkMVqe", false},
		{"bcrypt other cost", bc, "$2y$05$a1tZMhm9UOE086F9Gkh9yuQep/JzwGgzrs2bDYSY14OQ2ig6yQePe", true},
		{"bcrypt given argon2", bc, "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key, true},
		{"bcrypt given garbage", bc, "$2a$04$short", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.h.NeedsRehash(tc.encoded); got != tc.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	t.Parallel()
	for _, alg := range []Algorithm{AlgorithmArgon2, AlgorithmBcrypt} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			h := newTestHasher(t, alg)
			want := map[Algorithm]string{AlgorithmArgon2: "argon2id", AlgorithmBcrypt: "bcrypt"}[alg]
			if h.dummy.scheme != want {
				t.Errorf("dummy scheme = %q, want %q", h.dummy.scheme, want)
			}
			for _, p := range []string{"", "password", strings.Repeat("x", MaxPasswordBytes+10)} {
				if err := h.DummyVerify(t.Context(), []byte(p)); !errors.Is(err, ErrMismatch) {
					t.Errorf("DummyVerify(%d bytes) = %v, want ErrMismatch", len(p), err)
				}
			}
		})
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	t.Parallel()
	p := cheapParams(AlgorithmArgon2)
	p.Concurrency = 1
	h, err := NewHasher(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Hash(t.Context(), []byte("password"))
	if err != nil {
		t.Fatal(err)
	}

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.Verify(cancelled, []byte("password"), enc); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(cancelled) = %v, want context.Canceled", err)
	}
	if _, err := h.Hash(cancelled, []byte("password")); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash(cancelled) = %v, want context.Canceled", err)
	}
	if err := h.DummyVerify(cancelled, []byte("password")); !errors.Is(err, context.Canceled) {
		t.Errorf("DummyVerify(cancelled) = %v, want context.Canceled", err)
	}

	// With the only slot taken, a caller waits until its deadline.
	release, err := h.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel2()
	if err := h.Verify(short, []byte("password"), enc); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify(no free slot) = %v, want context.DeadlineExceeded", err)
	}
	release()
	if err := h.Verify(t.Context(), []byte("password"), enc); err != nil {
		t.Errorf("Verify after release = %v", err)
	}
}

func TestParamsValidate(t *testing.T) {
	t.Parallel()
	mod := func(f func(*Params)) Params {
		p := cheapParams(AlgorithmArgon2)
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		p       Params
		wantErr string
	}{
		{"defaults", DefaultParams(), ""},
		{"cheap argon2", cheapParams(AlgorithmArgon2), ""},
		{"cheap bcrypt", cheapParams(AlgorithmBcrypt), ""},
		{"bcrypt ignores argon2 params", Params{Algorithm: AlgorithmBcrypt, BcryptCost: 12}, ""},
		{"unknown algorithm", mod(func(p *Params) { p.Algorithm = "md5" }), `unknown password hashing algorithm "md5"`},
		{"empty algorithm", mod(func(p *Params) { p.Algorithm = "" }), "unknown password hashing algorithm"},
		{"zero parallelism", mod(func(p *Params) { p.Argon2.Parallelism = 0 }), "parallelism must be at least 1"},
		{"memory below lanes", mod(func(p *Params) { p.Argon2.Parallelism = 16 }), "at least 8 KiB per lane"},
		{"memory too large", mod(func(p *Params) { p.Argon2.Memory = 4 << 20 }), "memory must be at most"},
		{"zero iterations", mod(func(p *Params) { p.Argon2.Iterations = 0 }), "iterations must be between 1 and 64"},
		{"work too large", mod(func(p *Params) { p.Argon2.Memory = 1 << 20; p.Argon2.Iterations = 8 }), "memory × iterations"},
		{"short salt", mod(func(p *Params) { p.Argon2.SaltLength = 4 }), "salt length must be between 8 and 64"},
		{"short key", mod(func(p *Params) { p.Argon2.KeyLength = 8 }), "key length must be between 16 and 256"},
		{"bcrypt cost 3", Params{Algorithm: AlgorithmBcrypt, BcryptCost: 3}, "bcrypt cost must be between 4 and 16"},
		{"bcrypt cost 31", Params{Algorithm: AlgorithmBcrypt, BcryptCost: 31}, "bcrypt cost must be between 4 and 16"},
		{"negative concurrency", mod(func(p *Params) { p.Concurrency = -1 }), "concurrency must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.p.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				if _, err := NewHasher(tc.p, nil); err != nil {
					t.Errorf("NewHasher = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate = %v, want it to contain %q", err, tc.wantErr)
			}
			if _, err := NewHasher(tc.p, nil); err == nil {
				t.Errorf("NewHasher accepted invalid params")
			}
		})
	}
}

func TestDefaultParamsFollowKratos(t *testing.T) {
	t.Parallel()
	p := DefaultParams()
	if p.Algorithm != AlgorithmArgon2 || p.Argon2.Memory != 128*1024 || p.Argon2.Iterations != 1 ||
		p.Argon2.SaltLength != 16 || p.Argon2.KeyLength != 32 || p.BcryptCost != 12 || p.Argon2.Parallelism < 2 {
		t.Errorf("DefaultParams = %+v", p)
	}
}
