package api

import (
	"context"
	"net/http"
	"time"
)

// Pinger reports whether a dependency answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// MountHealth registers GET /health/alive (the process serves) and GET
// /health/ready (the database answers within two seconds) on mux, in the
// shape Kratos uses: {"status":"ok"} or 503 {"errors":{...}}.
func MountHealth(mux *http.ServeMux, db Pinger) {
	mux.HandleFunc("GET /health/alive", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			WriteJSON(w, http.StatusServiceUnavailable, map[string]any{
				"errors": map[string]string{"database": "the database does not answer"},
			})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
