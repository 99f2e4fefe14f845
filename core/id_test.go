package core

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c6", "6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c6", true},
		{"6F1C1A2E-3B4D-4C5E-8F60-718293A4B5C6", "6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c6", true},
		{"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", true},
		{"", "", false},
		{"é", "", false},
		{"\xff\xfe", "", false},
		{"6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c\xff", "", false},
		{"6f1c1a2e-3b4d-4c5e-8f60-718293a4b5cé", "", false},
		{"6f1c1a2e3b4d4c5e8f60718293a4b5c6", "", false},
		{"{6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c6}", "", false},
		{"urn:uuid:6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c6", "", false},
		{"6f1c1a2e_3b4d_4c5e_8f60_718293a4b5c6", "", false},
		{"6f1c1a2e-3b4d-4c5e-8f60-718293a4b5g6", "", false},
		{"6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c6\x00", "", false},
		{" 6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c", "", false},
	} {
		got, ok := ParseID(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseID(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if IsID(tc.in) != (ok && got == tc.in) {
			t.Errorf("IsID(%q) = %v", tc.in, IsID(tc.in))
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"6f1c1a2e-3b4d-4c5e-8f60-718293a4b5c6", "é", "\xff", strings.Repeat("-", 36)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseID(s)
		if !ok {
			if got != "" {
				t.Fatalf("ParseID(%q) = %q, false", s, got)
			}
			return
		}
		if len(got) != 36 || !utf8.ValidString(got) || strings.ToLower(s) != got || !IsID(got) {
			t.Fatalf("ParseID(%q) = %q", s, got)
		}
	})
}
