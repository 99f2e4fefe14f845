package hanko

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestCapabilitiesDecodedOncePerRequest checks that capabilitiesOf, asked
// many times while one response renders, decodes the stored capabilities
// once per request and value: again after they changed, and not across
// requests.
func TestCapabilitiesDecodedOncePerRequest(t *testing.T) {
	var allocs float64
	var got []clientCapabilities
	def, err := flow.New("probe").Kind(core.FlowLogin).State("a").InitialState("a").Hook(
		flow.BeforeState("a", func(c *flow.Context) error {
			got = append(got, capabilitiesOf(c)) // nothing stored yet
			keyCapabilities.Set(c.Stash(), clientCapabilities{WebAuthn: true})
			got = append(got, capabilitiesOf(c))
			allocs = testing.AllocsPerRun(20, func() { capabilitiesOf(c) })
			keyCapabilities.Set(c.Stash(), clientCapabilities{WebAuthn: true, ConditionalMediation: true})
			got = append(got, capabilitiesOf(c))
			return nil
		})).Build()
	if err != nil {
		t.Fatal(err)
	}
	e := flow.NewEngine(storetest.SQLite(t), nil, nil)
	ctx := context.WithValue(context.Background(), flowRequestKey{}, &flowRequest{})
	if _, err := e.Start(ctx, def, flow.Init{Face: "hanko"}); err != nil {
		t.Fatal(err)
	}
	want := []clientCapabilities{{}, {WebAuthn: true}, {WebAuthn: true, ConditionalMediation: true}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("capabilities #%d = %+v, want %+v", k, got[k], want[k])
		}
	}
	if allocs != 0 {
		t.Errorf("capabilitiesOf of an unchanged value allocates %.0f times, want 0 (decoded again)", allocs)
	}
}
