package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestDBPoolAndRuntimeMetricsMove: beside TestMetricsMove (which finds the
// pool and runtime families present), the database pool statistics and the
// Go runtime metrics change with load — concurrent registrations contend
// for SQLite's one writing connection, so its wait count grows, and the
// runtime's allocation counter grows between scrapes.
func TestDBPoolAndRuntimeMetricsMove(t *testing.T) {
	devEnv(t)
	public, admin, _ := startServe(t, serveOptions{dev: true, migrate: true})
	before := scrape(t, admin, "/metrics")
	waits := metric(before, "go_sql_wait_count_total", `db_name="write"`)
	allocs := metric(before, "go_memstats_alloc_bytes_total")
	if waits < 0 || allocs <= 0 {
		t.Fatalf("pool or runtime metrics missing:\n%s", before)
	}
	n := 0
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		for range 12 {
			n++
			body := fmt.Sprintf(`{"method":"password","traits":{"email":"pool%d@example.com"},"password":"a pool metrics password"}`, n)
			_, f := getJSON(t, public+"/self-service/registration/api")
			wg.Go(func() {
				res, err := http.Post(public+"/self-service/registration?flow="+fmt.Sprint(f["id"]), "application/json", strings.NewReader(body))
				if err == nil {
					res.Body.Close()
				}
			})
		}
		wg.Wait()
		if metric(scrape(t, admin, "/admin/metrics/prometheus"), "go_sql_wait_count_total", `db_name="write"`) > waits {
			break
		}
	}
	after := scrape(t, admin, "/metrics")
	if got := metric(after, "go_sql_wait_count_total", `db_name="write"`); got <= waits {
		t.Errorf("go_sql_wait_count_total{db_name=write} stayed at %v after %d concurrent registrations", got, n)
	}
	if got := metric(after, "go_sql_open_connections", `db_name="write"`); got != 1 {
		t.Errorf("go_sql_open_connections{db_name=write} = %v, want SQLite's one writer", got)
	}
	if got := metric(after, "go_memstats_alloc_bytes_total"); got <= allocs {
		t.Errorf("go_memstats_alloc_bytes_total stayed at %v", got)
	}
	if got := metric(after, "latchkey_http_requests_total", `route="POST /self-service/registration"`, `status="200"`); got < 1 {
		t.Errorf("registrations not counted: %v", got)
	}
}
