package code

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/core"
)

// CredentialConfig is the stored config of a code credential, in Kratos'
// shape (identityCredentialsCode): the addresses a login code may be sent
// to.
type CredentialConfig struct {
	Addresses []Address `json:"addresses"`
}

// Address is one address a login code may be sent to.
type Address struct {
	Channel string `json:"channel"`
	Address string `json:"address"`
}

// SecondFactorAddresses returns the addresses a code used as a second
// factor may be sent to (Kratos' code strategy with mfa_enabled): those the
// identity's code credential lists that are also verified verifiable
// addresses of the identity, ordered by channel, then address. An identity
// without any is not offered a code at aal2, and a code does not raise its
// highest available AAL.
//
// It returns an error only when the stored credential config is not JSON of
// that shape.
func SecondFactorAddresses(i *core.Identity) ([]Address, error) {
	c, ok := i.Credential(core.CredentialCode)
	if !ok || len(c.Config) == 0 {
		return nil, nil
	}
	var cfg CredentialConfig
	if err := json.Unmarshal(c.Config, &cfg); err != nil {
		return nil, fmt.Errorf("code: read the code credential of identity %s: %w", i.ID, err)
	}
	var out []Address
	for _, a := range cfg.Addresses {
		if a.Address == "" || a.Channel == "" || slices.Contains(out, a) {
			continue
		}
		if slices.ContainsFunc(i.Addresses, func(v core.Address) bool {
			return v.Verifiable && v.Verified && string(v.Via) == a.Channel && v.Value == a.Address
		}) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Address) int {
		if c := strings.Compare(a.Channel, b.Channel); c != 0 {
			return c
		}
		return strings.Compare(a.Address, b.Address)
	})
	return out, nil
}
