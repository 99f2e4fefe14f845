package upstream_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey/upstream"
)

// TestHTTPClientKeepsConnections runs two rounds of eight requests that
// are all in flight at once (the provider answers none before all eight
// arrived), as concurrent callbacks redeem their codes: the second round
// must reuse the first round's eight connections instead of dialling.
// (http.DefaultTransport keeps two idle connections per host, so it dialled
// six new ones.)
func TestHTTPClientKeepsConnections(t *testing.T) {
	const n = 8
	var dials atomic.Int64
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait()
		_, _ = io.WriteString(w, `{"access_token":"x","token_type":"Bearer"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := upstream.NewHTTPClient()
	defer client.CloseIdleConnections()
	round := func() {
		arrived.Add(n)
		var done sync.WaitGroup
		for range n {
			done.Go(func() {
				resp, err := client.Post(srv.URL+"/token", "application/x-www-form-urlencoded", nil)
				if err != nil {
					t.Error(err)
					return
				}
				// Read to the end, as oauth2 reads a token answer: the
				// connection is back in the idle pool when it returns.
				_, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			})
		}
		done.Wait()
	}
	round()
	if got := dials.Load(); got != n {
		t.Fatalf("first round: %d connections, want %d", got, n)
	}
	round()
	if got := dials.Load() - n; got != 0 {
		t.Fatalf("second round dialled %d new connections; want the first round's %d reused", got, n)
	}
}
