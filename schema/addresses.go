package schema

import (
	"time"

	"github.com/latchkey/latchkey/core"
)

// ApplyAddresses merges the addresses extracted from new traits into an
// identity's existing addresses and returns the new list; existing is not
// modified. The rules:
//
//   - An existing address that is still extracted keeps its ID, verification
//     state (Verified, VerifiedAt, Status) and CreatedAt; its Verifiable and
//     Recovery flags are set to what the traits now say.
//   - An existing address that came from traits (Verifiable or Recovery set)
//     and is no longer extracted is dropped, as Kratos drops it.
//   - An existing address with neither flag was added by a face outside the
//     traits (Hanko's additional e-mail addresses) and is kept unchanged.
//   - A newly extracted address gets an ID from newID, IdentityID, status
//     pending, not verified, and CreatedAt = UpdatedAt = now.
//   - Primary (e-mail only): the address equal to ex.PrimaryEmail when there
//     is one; else the existing primary e-mail if it is kept; else the first
//     e-mail address in the list. Phone numbers are never primary.
//
// Existing addresses keep their order, new ones follow in extraction order
// (verifiable addresses first, then recovery-only ones). UpdatedAt is set to
// now on every address whose flags changed. Addresses are matched by channel
// and normalised value; a nil ex removes every traits-derived address.
func ApplyAddresses(existing []core.Address, ex *Extracted, identityID string, now time.Time, newID func() string) []core.Address {
	type flags struct{ verifiable, recovery bool }
	want := make(map[Address]*flags)
	var order []Address
	mark := func(a Address, set func(*flags)) {
		f, ok := want[a]
		if !ok {
			f = &flags{}
			want[a] = f
			order = append(order, a)
		}
		set(f)
	}
	if ex != nil {
		for _, a := range ex.VerifiableAddresses {
			mark(a, func(f *flags) { f.verifiable = true })
		}
		for _, a := range ex.RecoveryAddresses {
			mark(a, func(f *flags) { f.recovery = true })
		}
	}

	out := make([]core.Address, 0, len(existing)+len(order))
	kept := make(map[Address]bool)
	for _, old := range existing {
		key := Address{Via: old.Via, Value: Normalize(old.Via, old.Value)}
		if kept[key] {
			continue // a duplicate; the store's uniqueness should prevent it
		}
		a := old
		if f, ok := want[key]; ok {
			a.Value = key.Value
			if a.Verifiable != f.verifiable || a.Recovery != f.recovery || a.Value != old.Value {
				a.Verifiable, a.Recovery = f.verifiable, f.recovery
				a.UpdatedAt = now
			}
		} else if old.Verifiable || old.Recovery {
			continue
		}
		kept[key] = true
		out = append(out, a)
	}
	for _, key := range order {
		if kept[key] {
			continue
		}
		f := want[key]
		out = append(out, core.Address{
			ID:         newID(),
			IdentityID: identityID,
			Via:        key.Via,
			Value:      key.Value,
			Status:     core.AddressPending,
			Verifiable: f.verifiable,
			Recovery:   f.recovery,
			CreatedAt:  now,
			UpdatedAt:  now,
		})
		kept[key] = true
	}

	primary := -1
	if ex != nil && ex.PrimaryEmail != "" {
		for i, a := range out {
			if a.Via == core.ViaEmail && a.Value == ex.PrimaryEmail {
				primary = i
				break
			}
		}
	}
	if primary < 0 {
		for i, a := range out {
			if a.Via == core.ViaEmail && a.Primary {
				primary = i
				break
			}
		}
	}
	if primary < 0 {
		for i, a := range out {
			if a.Via == core.ViaEmail {
				primary = i
				break
			}
		}
	}
	for i := range out {
		p := i == primary
		if out[i].Primary != p {
			out[i].Primary = p
			out[i].UpdatedAt = now
		}
	}
	return out
}
