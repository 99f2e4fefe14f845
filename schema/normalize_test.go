package schema

import (
	"testing"

	"github.com/latchkey/latchkey/core"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		via   core.AddressVia
		in    string
		want  string
		valid bool
	}{
		{"email lower-cased whole", core.ViaEmail, "  Jane.Doe@Example.COM\n", "jane.doe@example.com", true},
		{"email unicode lower-cased", core.ViaEmail, "ÄRGER@example.com", "ärger@example.com", false},
		{"email missing at", core.ViaEmail, "jane", "jane", false},
		{"email empty", core.ViaEmail, "   ", "", false},
		{"phone separators stripped", core.ViaSMS, " +49 (170) 123-4567 ", "+491701234567", true},
		{"phone dots and nbsp", core.ViaSMS, "+1.555\u00a0010.0123", "+15550100123", true},
		{"phone without country code", core.ViaSMS, "0170 1234567", "01701234567", false},
		{"phone leading zero country", core.ViaSMS, "+0123456789", "+0123456789", false},
		{"phone too short", core.ViaSMS, "+123456", "+123456", false},
		{"phone shortest", core.ViaSMS, "+1234567", "+1234567", true},
		{"phone longest", core.ViaSMS, "+123456789012345", "+123456789012345", true},
		{"phone too long", core.ViaSMS, "+1234567890123456", "+1234567890123456", false},
		{"phone letters", core.ViaSMS, "+49170CALLME", "+49170CALLME", false},
		{"unknown channel trimmed", core.AddressVia("pigeon"), " Coo ", "Coo", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Normalize(tt.via, tt.in)
			if got != tt.want {
				t.Errorf("Normalize(%q, %q) = %q, want %q", tt.via, tt.in, got, tt.want)
			}
			if v := ValidAddress(tt.via, got); v != tt.valid {
				t.Errorf("ValidAddress(%q, %q) = %v, want %v", tt.via, got, v, tt.valid)
			}
			if again := Normalize(tt.via, got); again != got {
				t.Errorf("Normalize is not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestNormalizeIdentifier(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{" Jane.Doe@Example.com ", "jane.doe@example.com"},
		{"Alice", "alice"},
		{"  bob_42\t", "bob_42"},
		{"+49 170 1234567", "+491701234567"},
		{"0170 1234567", "0170 1234567"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeIdentifier(tt.in); got != tt.want {
			t.Errorf("NormalizeIdentifier(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := NormalizeIdentifier(tt.want); got != tt.want {
			t.Errorf("NormalizeIdentifier is not idempotent on %q: %q", tt.want, got)
		}
	}
}
