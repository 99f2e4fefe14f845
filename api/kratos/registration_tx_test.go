package kratos_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// TestSelfServiceRegistrationInStep checks that the registered identity is
// written in the flow step's transaction: a step that does not commit
// leaves no identity, and concurrent registrations of one address end with
// one identity and duplicate-credential messages, never a server error.
func TestSelfServiceRegistrationInStep(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		ctx := context.Background()
		body := func(email string) map[string]any {
			return map[string]any{"method": "password", "traits": map[string]any{"email": email, "name": "Racer"},
				"password": "correct horse battery"}
		}
		count := func(t *testing.T) int {
			t.Helper()
			n, err := e.st.CountIdentities(ctx, store.IdentityQuery{})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		cases := []struct {
			name string
			run  func(t *testing.T)
		}{
			{"one flow submitted concurrently with different traits", func(t *testing.T) {
				before := count(t)
				f := e.native(t).do("GET", "/self-service/registration/api", nil)
				must(t, f, 200)
				id := flowID(t, f)
				const n = 4
				codes := make([]int, n)
				var wg sync.WaitGroup
				for k := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := e.native(t).do("POST", "/self-service/registration?flow="+id, body(fmt.Sprintf("same-flow-%d@example.com", k)))
						codes[k] = r.code
					}()
				}
				wg.Wait()
				won := 0
				for k, c := range codes {
					_, err := e.st.FindIdentityByAddress(ctx, core.ViaEmail, fmt.Sprintf("same-flow-%d@example.com", k))
					switch {
					case c == 200:
						won++
						if err != nil {
							t.Errorf("submission %d succeeded but its identity is missing: %v", k, err)
						}
					case !errors.Is(err, store.ErrNotFound):
						t.Errorf("submission %d answered %d but left its identity (%v)", k, c, err)
					}
					if c >= 500 {
						t.Errorf("submission %d answered %d", k, c)
					}
				}
				if won != 1 || count(t) != before+1 {
					t.Errorf("%d submissions won (%v), %d identities made; want 1", won, codes, count(t)-before)
				}
			}},
			{"separate flows race for one address", func(t *testing.T) {
				before := count(t)
				const n = 6
				flows := make([]string, n)
				for k := range flows {
					f := e.native(t).do("GET", "/self-service/registration/api", nil)
					must(t, f, 200)
					flows[k] = flowID(t, f)
				}
				answers := make([]resp, n)
				var wg sync.WaitGroup
				for k := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						answers[k] = e.native(t).do("POST", "/self-service/registration?flow="+flows[k], body("contended@example.com"))
					}()
				}
				wg.Wait()
				won := 0
				for k, r := range answers {
					switch r.code {
					case 200:
						won++
					case 400:
						if ids := messageIDs(r.json(t)); !hasID(ids, kratos.MsgDuplicateCredentials) {
							t.Errorf("submission %d: messages %v lack %d: %s", k, ids, kratos.MsgDuplicateCredentials, r.body)
						}
					default:
						t.Errorf("submission %d answered %d: %s", k, r.code, r.body)
					}
				}
				if won != 1 || count(t) != before+1 {
					t.Errorf("%d registrations won, %d identities made; want 1", won, count(t)-before)
				}
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, tc.run)
		}
	})
}
