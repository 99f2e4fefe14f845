package code

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/latchkey/latchkey/core"
)

func TestSecondFactorAddresses(t *testing.T) {
	t.Parallel()
	addr := func(via core.AddressVia, v string, verified bool) core.Address {
		return core.Address{Via: via, Value: v, Verifiable: true, Verified: verified}
	}
	cred := func(cfg string) map[core.CredentialType]core.Credential {
		return map[core.CredentialType]core.Credential{core.CredentialCode: {Type: core.CredentialCode, Config: json.RawMessage(cfg)}}
	}
	two := `{"addresses":[{"channel":"sms","address":"+4917612345678"},{"channel":"email","address":"b@example.com"},{"channel":"email","address":"a@example.com"},{"channel":"email","address":"a@example.com"}]}`
	for _, tc := range []struct {
		name    string
		i       core.Identity
		want    []Address
		wantErr bool
	}{
		{name: "no code credential", i: core.Identity{Addresses: []core.Address{addr(core.ViaEmail, "a@example.com", true)}}},
		{name: "empty config", i: core.Identity{Credentials: cred(``), Addresses: []core.Address{addr(core.ViaEmail, "a@example.com", true)}}},
		{name: "unverified address", i: core.Identity{Credentials: cred(two), Addresses: []core.Address{addr(core.ViaEmail, "a@example.com", false)}}},
		{name: "verified but not a code address", i: core.Identity{Credentials: cred(two), Addresses: []core.Address{addr(core.ViaEmail, "c@example.com", true)}}},
		{name: "channel must match", i: core.Identity{Credentials: cred(two), Addresses: []core.Address{addr(core.ViaSMS, "a@example.com", true)}}},
		{name: "not verifiable", i: core.Identity{Credentials: cred(two), Addresses: []core.Address{{Via: core.ViaEmail, Value: "a@example.com", Verified: true}}}},
		{name: "verified ones, sorted, once each", i: core.Identity{Credentials: cred(two), Addresses: []core.Address{
			addr(core.ViaEmail, "b@example.com", true), addr(core.ViaEmail, "a@example.com", true), addr(core.ViaSMS, "+4917612345678", true)}},
			want: []Address{{"email", "a@example.com"}, {"email", "b@example.com"}, {"sms", "+4917612345678"}}},
		{name: "broken config", i: core.Identity{Credentials: cred(`{"addresses":"x"}`)}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := SecondFactorAddresses(&tc.i)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
