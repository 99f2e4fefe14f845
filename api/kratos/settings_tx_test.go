package kratos_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

// TestSelfServiceSettingsInStep checks that settings write the identity in
// the flow step's transaction: of concurrent submissions of one settings
// flow, only answered successes change the identity (a submission that
// lost the step leaves nothing behind), and none answers a server error.
func TestSelfServiceSettingsInStep(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		c := e.native(t)
		c.token = e.registerNative(t, c, "settle@example.com", "correct horse battery")
		sf := c.do("GET", "/self-service/settings/api", nil)
		must(t, sf, 200)
		id := flowID(t, sf)
		const n = 4
		codes := make([]int, n)
		var wg sync.WaitGroup
		for k := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := e.native(t)
				cl.token = c.token
				r := cl.do("POST", "/self-service/settings?flow="+id, map[string]any{"method": "profile",
					"traits": map[string]any{"email": "settle@example.com", "name": fmt.Sprintf("Name %d", k)}})
				codes[k] = r.code
			}()
		}
		wg.Wait()
		who := c.do("GET", "/sessions/whoami", nil)
		must(t, who, 200)
		var s struct {
			Identity struct {
				Traits struct{ Name string } `json:"traits"`
			} `json:"identity"`
		}
		if err := json.Unmarshal(who.body, &s); err != nil {
			t.Fatal(err)
		}
		won := map[string]bool{}
		for k, code := range codes {
			if code >= 500 {
				t.Errorf("submission %d answered %d", k, code)
			}
			if code == 200 {
				won[fmt.Sprintf("Name %d", k)] = true
			}
		}
		if len(won) == 0 || !won[s.Identity.Traits.Name] {
			t.Fatalf("identity name %q after submissions answered %v: only a successful submission may have changed it", s.Identity.Traits.Name, codes)
		}
	})
}
