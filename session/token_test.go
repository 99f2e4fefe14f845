package session

import (
	"bytes"
	"errors"
	"regexp"
	"testing"
	"testing/iotest"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/core"
)

var (
	sessionTokenRE = regexp.MustCompile(`^ory_st_[A-Za-z0-9]{32}$`)
	logoutTokenRE  = regexp.MustCompile(`^ory_lo_[A-Za-z0-9]{32}$`)
)

func TestNewToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    *bytes.Reader
		want string
	}{
		// 248..255 are skipped (they would bias the modulo); 0 is 'A',
		// 61 is '9', 62 wraps to 'A', 247 is 247%62=61 → '9'.
		{"rejection sampling", bytes.NewReader(append([]byte{248, 255, 0, 61, 62, 247}, bytes.Repeat([]byte{1}, 200)...)), "ory_st_A9A9" + "BBBBBBBBBBBBBBBBBBBBBBBBBBBB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := newToken(tt.r, SessionTokenPrefix)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("newToken = %q, want %q", got, tt.want)
			}
		})
	}

	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		tok, err := newToken(randReader(), SessionTokenPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if !sessionTokenRE.MatchString(tok) {
			t.Fatalf("token %q has the wrong format", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q repeated", tok)
		}
		seen[tok] = true
		for _, c := range tok[len(SessionTokenPrefix):] {
			counts[c]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("only %d distinct characters in 64000 draws", len(counts))
	}

	if _, err := newToken(iotest.ErrReader(errors.New("no entropy")), SessionTokenPrefix); err == nil {
		t.Fatal("newToken succeeded without randomness")
	}
}

func TestLogoutTokenDerivation(t *testing.T) {
	t.Parallel()
	a, _ := cipher.NewSigner("first-secret-0123456789")
	b, _ := cipher.NewSigner("second-secret-0123456789")
	tok := logoutToken(a, "s1")
	if !logoutTokenRE.MatchString(tok) {
		t.Fatalf("logout token %q has the wrong format", tok)
	}
	tests := []struct {
		name  string
		other string
		same  bool
	}{
		{"same session, same secret", logoutToken(a, "s1"), true},
		{"other session", logoutToken(a, "s2"), false},
		{"other secret", logoutToken(b, "s1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if (tt.other == tok) != tt.same {
				t.Fatalf("%q vs %q: same = %v, want %v", tt.other, tok, tt.other == tok, tt.same)
			}
		})
	}
}

func TestUpsertDevice(t *testing.T) {
	t.Parallel()
	d := func(id, ip, ua string) core.Device { return core.Device{ID: id, IPAddress: ip, UserAgent: ua} }
	tests := []struct {
		name string
		list []core.Device
		in   core.Device
		want []string // ids in order
	}{
		{"append to empty", nil, d("", "1.1.1.1", "a"), []string{"new"}},
		{"keeps given id", nil, d("given", "1.1.1.1", "a"), []string{"given"}},
		{"known moves to end", []core.Device{d("x", "1.1.1.1", "a"), d("y", "2.2.2.2", "b")}, d("", "1.1.1.1", "a"), []string{"y", "x"}},
		{"other agent is another device", []core.Device{d("x", "1.1.1.1", "a")}, d("", "1.1.1.1", "b"), []string{"x", "new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := upsertDevice(tt.list, tt.in, "new")
			var ids []string
			for _, g := range got {
				ids = append(ids, g.ID)
			}
			if len(ids) != len(tt.want) {
				t.Fatalf("ids = %v, want %v", ids, tt.want)
			}
			for i := range ids {
				if ids[i] != tt.want[i] {
					t.Fatalf("ids = %v, want %v", ids, tt.want)
				}
			}
		})
	}
	var list []core.Device
	for i := range maxDevices + 5 {
		list = upsertDevice(list, d("", "10.0.0.1", string(rune('a'+i))), string(rune('a'+i)))
	}
	if len(list) != maxDevices || list[0].ID != string(rune('a'+5)) {
		t.Fatalf("cap: %d devices, first %q", len(list), list[0].ID)
	}
}
