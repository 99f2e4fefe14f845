package hanko

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/store"
)

// downStore is a store whose database does not answer pings.
type downStore struct{ store.Store }

func (downStore) Ping(context.Context) error { return errors.New("connection refused") }

// TestAdminStatus: GET / of the admin API is Hanko's status page, behind
// the API key: 200 while the database answers, 500 when it does not.
func TestAdminStatus(t *testing.T) {
	t.Parallel()
	e := newPEnv(t, nil)
	if r := do(t, e.admin, nil, "GET", "/", nil); r.Code != http.StatusUnauthorized {
		t.Fatalf("without the key: %d", r.Code)
	}
	r := do(t, e.admin, e.adminV, "GET", "/", nil, "Authorization: Bearer "+testAPIKey)
	if r.Code != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.Body), "running") {
		t.Fatalf("status page: %d %s %s", r.Code, r.Header.Get("Content-Type"), r.Body)
	}

	h := &Handler{store: downStore{}}
	rec := do(t, http.HandlerFunc(h.adminStatus), e.adminV, "GET", "/", nil, "Authorization: Bearer "+testAPIKey)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(string(rec.Body), "database") {
		t.Fatalf("status page with the database down: %d %s", rec.Code, rec.Body)
	}
}
