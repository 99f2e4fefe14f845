package cipher

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

const (
	secretA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // 32 bytes
	secretB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	secretC = "cccccccccccccccccccccccccccccccccccccccc" // longer secrets are fine
)

func mustNew(t testing.TB, secrets ...string) *Cipher {
	t.Helper()
	c, err := New(secrets...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestNewRejectsBadSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
	}{
		{"none", nil},
		{"empty", []string{""}},
		{"31 bytes", []string{strings.Repeat("x", 31)}},
		{"second too short", []string{secretA, "short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tt.secrets...); err == nil {
				t.Fatal("New accepted bad secrets")
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	c := mustNew(t, secretA)
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty plaintext", nil, nil},
		{"text", []byte("JBSWY3DPEHPK3PXP"), nil},
		{"with aad", []byte("refresh-token"), []byte("identity:1234")},
		{"binary", bytes.Repeat([]byte{0, 1, 2, 255}, 1000), []byte{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ct, err := c.Encrypt(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if len(ct) != len(tt.plaintext)+overhead {
				t.Errorf("ciphertext length = %d, want %d", len(ct), len(tt.plaintext)+overhead)
			}
			if ct[0] != version1 {
				t.Errorf("version byte = %d, want %d", ct[0], version1)
			}
			if len(tt.plaintext) > 8 && bytes.Contains(ct, tt.plaintext) {
				t.Error("ciphertext contains the plaintext")
			}
			pt, err := c.Decrypt(ct, tt.aad)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(pt, tt.plaintext) {
				t.Errorf("Decrypt = %q, want %q", pt, tt.plaintext)
			}
		})
	}
}

func TestNoncesDiffer(t *testing.T) {
	t.Parallel()
	c := mustNew(t, secretA)
	a, _ := c.Encrypt([]byte("same"), nil)
	b, _ := c.Encrypt([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same plaintext are equal")
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old := mustNew(t, secretA)
	rotated := mustNew(t, secretB, secretA) // new secret first, old kept for decryption
	retired := mustNew(t, secretB)          // old secret dropped

	oldCT, err := old.Encrypt([]byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	newCT, err := rotated.Encrypt([]byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		c       *Cipher
		ct      []byte
		wantErr error
	}{
		{"rotated decrypts old", rotated, oldCT, nil},
		{"rotated decrypts new", rotated, newCT, nil},
		{"retired decrypts new", retired, newCT, nil},
		{"retired refuses old", retired, oldCT, ErrNoKey},
		{"old refuses new", old, newCT, ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pt, err := tt.c.Decrypt(tt.ct, []byte("aad"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decrypt error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && string(pt) != "secret" {
				t.Fatalf("Decrypt = %q", pt)
			}
		})
	}
}

func TestTamperDetected(t *testing.T) {
	t.Parallel()
	c := mustNew(t, secretA, secretB, secretC)
	ct, err := c.Encrypt([]byte("do not touch"), []byte("owner"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ct {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(ct)
			bad[i] ^= bit
			if _, err := c.Decrypt(bad, []byte("owner")); err == nil {
				t.Fatalf("flipping bit %#x of byte %d went unnoticed", bit, i)
			}
		}
	}
	tests := []struct {
		name    string
		ct      []byte
		aad     []byte
		wantErr error
	}{
		{"wrong aad", ct, []byte("other"), ErrNoKey},
		{"missing aad", ct, nil, ErrNoKey},
		{"truncated", ct[:len(ct)-1], []byte("owner"), ErrNoKey},
		{"too short", ct[:overhead-1], []byte("owner"), ErrMalformed},
		{"empty", nil, nil, ErrMalformed},
		{"unknown version", append([]byte{0x02}, ct[1:]...), []byte("owner"), ErrMalformed},
		{"extended", append(bytes.Clone(ct), 0), []byte("owner"), ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := c.Decrypt(tt.ct, tt.aad); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decrypt error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEncryptRandFailure(t *testing.T) {
	t.Parallel()
	c, err := NewWithRand(iotest.ErrReader(errors.New("entropy gone")), secretA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt([]byte("x"), nil); err == nil {
		t.Fatal("Encrypt succeeded without randomness")
	}
}

func FuzzDecrypt(f *testing.F) {
	// A deterministic nonce source makes the seeds reproducible.
	c, err := NewWithRand(bytes.NewReader(bytes.Repeat([]byte{7}, 1<<16)), secretA, secretB)
	if err != nil {
		f.Fatal(err)
	}
	valid := map[string]string{} // ciphertext -> plaintext, all with aad "aad"
	for _, pt := range []string{"", "a", "hello world", strings.Repeat("z", 100)} {
		ct, err := c.Encrypt([]byte(pt), []byte("aad"))
		if err != nil {
			f.Fatal(err)
		}
		valid[string(ct)] = pt
		f.Add(ct, []byte("aad"))
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{version1}, []byte("aad"))
	f.Fuzz(func(t *testing.T, ct, aad []byte) {
		pt, err := c.Decrypt(ct, aad)
		if err != nil {
			if !errors.Is(err, ErrNoKey) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// Only an untouched ciphertext with its own aad may decrypt.
		want, ok := valid[string(ct)]
		if !ok || string(aad) != "aad" || string(pt) != want {
			t.Fatalf("forged ciphertext %x (aad %q) decrypted to %q", ct, aad, pt)
		}
	})
}
