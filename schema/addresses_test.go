package schema

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
)

func TestApplyAddresses(t *testing.T) {
	t.Parallel()
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	now := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	verifiedAt := time.Date(2024, 2, 3, 0, 0, 0, 0, time.UTC)
	email := func(v string) Address { return Address{Via: core.ViaEmail, Value: v} }
	sms := func(v string) Address { return Address{Via: core.ViaSMS, Value: v} }

	verifiedOld := core.Address{
		ID: "old-1", IdentityID: "id-1", Via: core.ViaEmail, Value: "old@example.com",
		Verified: true, VerifiedAt: &verifiedAt, Status: core.AddressCompleted,
		Primary: true, Verifiable: true, Recovery: true, CreatedAt: created, UpdatedAt: created,
	}
	hankoOnly := core.Address{
		ID: "hanko-1", IdentityID: "id-1", Via: core.ViaEmail, Value: "extra@example.com",
		Status: core.AddressPending, CreatedAt: created, UpdatedAt: created,
	}
	fresh := func(id string, a Address, verifiable, recovery, primary bool) core.Address {
		return core.Address{
			ID: id, IdentityID: "id-1", Via: a.Via, Value: a.Value, Status: core.AddressPending,
			Verifiable: verifiable, Recovery: recovery, Primary: primary, CreatedAt: now, UpdatedAt: now,
		}
	}
	with := func(a core.Address, f func(*core.Address)) core.Address { f(&a); return a }

	tests := []struct {
		name     string
		existing []core.Address
		ex       *Extracted
		want     []core.Address
	}{
		{
			name: "new identity",
			ex: &Extracted{
				VerifiableAddresses: []Address{email("a@example.com"), sms("+15550100123")},
				RecoveryAddresses:   []Address{email("a@example.com"), email("r@example.com")},
				PrimaryEmail:        "a@example.com",
			},
			want: []core.Address{
				fresh("new-1", email("a@example.com"), true, true, true),
				fresh("new-2", sms("+15550100123"), true, false, false),
				fresh("new-3", email("r@example.com"), false, true, false),
			},
		},
		{
			name:     "unchanged address keeps id and verification",
			existing: []core.Address{verifiedOld},
			ex: &Extracted{
				VerifiableAddresses: []Address{email("old@example.com")},
				RecoveryAddresses:   []Address{email("old@example.com")},
				PrimaryEmail:        "old@example.com",
			},
			want: []core.Address{verifiedOld},
		},
		{
			name:     "unnormalised stored value still matches",
			existing: []core.Address{with(verifiedOld, func(a *core.Address) { a.Value = "Old@Example.com" })},
			ex: &Extracted{
				VerifiableAddresses: []Address{email("old@example.com")},
				RecoveryAddresses:   []Address{email("old@example.com")},
				PrimaryEmail:        "old@example.com",
			},
			want: []core.Address{with(verifiedOld, func(a *core.Address) { a.UpdatedAt = now })},
		},
		{
			name:     "changed e-mail: old dropped, new pending and primary",
			existing: []core.Address{verifiedOld},
			ex: &Extracted{
				VerifiableAddresses: []Address{email("new@example.com")},
				RecoveryAddresses:   []Address{email("new@example.com")},
				PrimaryEmail:        "new@example.com",
			},
			want: []core.Address{fresh("new-1", email("new@example.com"), true, true, true)},
		},
		{
			name:     "flags follow the traits",
			existing: []core.Address{verifiedOld},
			ex: &Extracted{
				VerifiableAddresses: []Address{email("old@example.com")},
				PrimaryEmail:        "old@example.com",
			},
			want: []core.Address{with(verifiedOld, func(a *core.Address) { a.Recovery = false; a.UpdatedAt = now })},
		},
		{
			name:     "face-managed address kept, primary moves to the email trait",
			existing: []core.Address{with(hankoOnly, func(a *core.Address) { a.Primary = true }), verifiedOld},
			ex: &Extracted{
				VerifiableAddresses: []Address{email("old@example.com")},
				RecoveryAddresses:   []Address{email("old@example.com")},
				PrimaryEmail:        "old@example.com",
			},
			want: []core.Address{
				with(hankoOnly, func(a *core.Address) { a.UpdatedAt = now }),
				verifiedOld,
			},
		},
		{
			name:     "without an email trait the existing primary stays",
			existing: []core.Address{verifiedOld, with(hankoOnly, func(a *core.Address) {})},
			ex: &Extracted{
				VerifiableAddresses: []Address{email("z@example.com"), email("old@example.com")},
			},
			want: []core.Address{
				with(verifiedOld, func(a *core.Address) { a.Recovery = false; a.UpdatedAt = now }),
				hankoOnly,
				fresh("new-1", email("z@example.com"), true, false, false),
			},
		},
		{
			name:     "without any primary the first e-mail becomes primary",
			existing: []core.Address{{ID: "p", IdentityID: "id-1", Via: core.ViaSMS, Value: "+15550100123", Verifiable: true, Status: core.AddressPending, CreatedAt: created, UpdatedAt: created}},
			ex: &Extracted{
				VerifiableAddresses: []Address{sms("+15550100123"), email("b@example.com"), email("a@example.com")},
			},
			want: []core.Address{
				{ID: "p", IdentityID: "id-1", Via: core.ViaSMS, Value: "+15550100123", Verifiable: true, Status: core.AddressPending, CreatedAt: created, UpdatedAt: created},
				fresh("new-1", email("b@example.com"), true, false, true),
				fresh("new-2", email("a@example.com"), true, false, false),
			},
		},
		{
			name:     "nil extraction drops traits-derived addresses only",
			existing: []core.Address{verifiedOld, hankoOnly},
			ex:       nil,
			want:     []core.Address{with(hankoOnly, func(a *core.Address) { a.Primary = true; a.UpdatedAt = now })},
		},
		{
			name:     "duplicates in existing are collapsed",
			existing: []core.Address{verifiedOld, with(verifiedOld, func(a *core.Address) { a.ID = "dup" })},
			ex: &Extracted{
				VerifiableAddresses: []Address{email("old@example.com")},
				RecoveryAddresses:   []Address{email("old@example.com")},
				PrimaryEmail:        "old@example.com",
			},
			want: []core.Address{verifiedOld},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := 0
			newID := func() string { n++; return fmt.Sprintf("new-%d", n) }
			before := append([]core.Address(nil), tt.existing...)
			got := ApplyAddresses(tt.existing, tt.ex, "id-1", now, newID)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ApplyAddresses:\n got %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(tt.existing, before) {
				t.Error("ApplyAddresses modified its input")
			}
		})
	}
}

func TestApplyAddressesWithExtract(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, mustRegistry(t), DefaultID)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ex, err := s.Extract([]byte(`{"email":"Jane@Example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := ApplyAddresses(nil, ex, "id-1", now, func() string { return "addr-1" })
	want := []core.Address{{
		ID: "addr-1", IdentityID: "id-1", Via: core.ViaEmail, Value: "jane@example.com", Status: core.AddressPending,
		Primary: true, Verifiable: true, Recovery: true, CreatedAt: now, UpdatedAt: now,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
