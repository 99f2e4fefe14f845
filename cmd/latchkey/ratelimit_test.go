package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestPasswordLimitBackends: the password attempt limit holds through the
// served wiring on each counter backend (database, memory, and Redis when
// LATCHKEY_TEST_REDIS_URL is set; required in CI).
func TestPasswordLimitBackends(t *testing.T) {
	backends := map[string]string{"database": "", "memory": ""}
	if u := os.Getenv("LATCHKEY_TEST_REDIS_URL"); u != "" {
		backends["redis"] = u
	} else if os.Getenv("CI") != "" {
		t.Fatal("LATCHKEY_TEST_REDIS_URL is not set; CI must test the Redis backend")
	}
	for backend, url := range backends {
		t.Run(backend, func(t *testing.T) {
			devEnv(t)
			t.Setenv("LATCHKEY_RATELIMIT_BACKEND", backend)
			if url != "" {
				t.Setenv("LATCHKEY_RATELIMIT_REDIS_URL", url)
			}
			t.Setenv("LATCHKEY_RATELIMIT_PASSWORD_IDENTIFIER_LIMIT", "3")
			public, _, _ := startServe(t, serveOptions{dev: true, migrate: true})
			// A fresh identifier per run, so Redis counters of earlier runs
			// cannot interfere.
			ident := fmt.Sprintf("limit-%s-%d@example.com", backend, os.Getpid())
			codes := make([]int, 0, 4)
			for range 4 {
				res, err := http.Get(public + "/self-service/login/api")
				if err != nil {
					t.Fatal(err)
				}
				var f struct{ ID string }
				_ = json.NewDecoder(res.Body).Decode(&f)
				res.Body.Close()
				body := fmt.Sprintf(`{"method":"password","identifier":%q,"password":"wrong-password"}`, ident)
				res, err = http.Post(public+"/self-service/login?flow="+f.ID, "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				codes = append(codes, res.StatusCode)
				if res.StatusCode == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			}
			if fmt.Sprint(codes) != "[400 400 400 429]" {
				t.Fatalf("statuses %v, want three invalid-credentials answers, then 429", codes)
			}
		})
	}
}
