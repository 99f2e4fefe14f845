package cipher

import (
	"bytes"
	"testing"
)

func TestSigner(t *testing.T) {
	t.Parallel()
	oldS, err := NewSigner("old-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewSigner("new-secret-0123456789", "old-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	retired, err := NewSigner("new-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("cookie:session=abc")
	oldTag := oldS.MAC(msg)
	newTag := rotated.MAC(msg)
	if len(newTag) != MACSize {
		t.Fatalf("tag length %d", len(newTag))
	}
	if !bytes.Equal(newTag, retired.MAC(msg)) {
		t.Fatal("the first secret signs")
	}
	flipped := bytes.Clone(newTag)
	flipped[0] ^= 1

	tests := []struct {
		name string
		s    *Signer
		msg  []byte
		tag  []byte
		want bool
	}{
		{"rotated verifies old", rotated, msg, oldTag, true},
		{"rotated verifies new", rotated, msg, newTag, true},
		{"retired refuses old", retired, msg, oldTag, false},
		{"old refuses new", oldS, msg, newTag, false},
		{"other message", rotated, []byte("cookie:session=abd"), newTag, false},
		{"flipped bit", rotated, msg, flipped, false},
		{"truncated tag", rotated, msg, newTag[:16], false},
		{"empty tag", rotated, msg, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.s.VerifyMAC(tt.msg, tt.tag); got != tt.want {
				t.Fatalf("VerifyMAC = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewSignerRejectsBadSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
	}{
		{"none", nil},
		{"short", []string{"0123456789abcde"}},
		{"second short", []string{"0123456789abcdef", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewSigner(tt.secrets...); err == nil {
				t.Fatal("NewSigner accepted bad secrets")
			}
		})
	}
}

func TestSignerMACs(t *testing.T) {
	t.Parallel()
	oldS, err := NewSigner("old-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewSigner("new-secret-0123456789", "old-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("flow:start")
	tags := rotated.MACs(msg)
	if len(tags) != 2 || !bytes.Equal(tags[0], rotated.MAC(msg)) || !bytes.Equal(tags[1], oldS.MAC(msg)) {
		t.Fatalf("MACs = %x, want the tags under the new then the old secret", tags)
	}
	for _, tag := range tags {
		if !rotated.VerifyMAC(msg, tag) {
			t.Fatalf("VerifyMAC refuses %x", tag)
		}
	}
}
