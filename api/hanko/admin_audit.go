package hanko

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

func (h *Handler) mountAdminAudit(route func(string, http.HandlerFunc)) {
	route("GET /audit_logs", h.listAuditLogs)
}

// AuditLogJSON is an audit log entry of the admin API
// (openapi-admin.yaml AuditLog).
type AuditLogJSON struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Error       string    `json:"error,omitempty"`
	RequestID   string    `json:"meta_http_request_id"`
	SourceIP    string    `json:"meta_source_ip"`
	UserAgent   string    `json:"meta_user_agent"`
	ActorUserID string    `json:"actor_user_id,omitempty"`
	ActorEmail  string    `json:"actor_email,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func auditLogJSON(l *store.AuditLog) AuditLogJSON {
	return AuditLogJSON{ID: l.ID, Type: l.Type, Error: l.Error, RequestID: l.RequestID, SourceIP: l.SourceIP,
		UserAgent: l.UserAgent, ActorUserID: l.ActorUserID, ActorEmail: l.ActorEmail,
		CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
}

// listAuditLogs answers GET /audit_logs: entries newest first, filtered by
// start_time and end_time (RFC 3339, inclusive), type (repeatable, any of),
// actor_user_id, actor_email, meta_source_ip and q (a case-insensitive
// substring of the source IP, actor user id or actor e-mail), paged by page
// and per_page with X-Total-Count and Link headers.
func (h *Handler) listAuditLogs(w http.ResponseWriter, r *http.Request) {
	page, perPage, ok := paging(w, r)
	if !ok {
		return
	}
	qs := r.URL.Query()
	q := store.AuditLogQuery{ActorEmail: strings.TrimSpace(qs.Get("actor_email")),
		SourceIP: strings.TrimSpace(qs.Get("meta_source_ip")), Search: strings.TrimSpace(qs.Get("q"))}
	for _, t := range qs["type"] {
		for _, part := range strings.Split(t, ",") {
			if part = strings.TrimSpace(part); part != "" {
				q.Types = append(q.Types, part)
			}
		}
	}
	for _, v := range append([]string{q.ActorEmail, q.SourceIP, q.Search}, q.Types...) {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			// No entry has these, and PostgreSQL refuses to compare them:
			// the answer is the empty page.
			writePageHeaders(w, r, 0, page, perPage)
			w.Header().Set("Cache-Control", "no-store")
			api.WriteJSON(w, http.StatusOK, []AuditLogJSON{})
			return
		}
	}
	if v := qs.Get("actor_user_id"); v != "" {
		id, ok := core.ParseID(v)
		if !ok {
			writeError(w, http.StatusBadRequest, "actor_user_id is not a valid UUID")
			return
		}
		q.ActorUserID = id
	}
	for name, dst := range map[string]*time.Time{"start_time": &q.From, "end_time": &q.To} {
		if v := qs.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, name+" must be an RFC 3339 date and time, e.g. 2022-09-12T12:48:48Z")
				return
			}
			*dst = t
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		writeError(w, http.StatusBadRequest, "end_time is before start_time")
		return
	}
	ctx := r.Context()
	total, err := h.store.CountAuditLogs(ctx, q)
	if err != nil {
		h.fail(w, r, fmt.Errorf("count audit logs: %w", err))
		return
	}
	q.Limit, q.Offset = perPage, (page-1)*perPage
	list, err := h.store.ListAuditLogs(ctx, q)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list audit logs: %w", err))
		return
	}
	out := make([]AuditLogJSON, 0, len(list))
	for n := range list {
		out = append(out, auditLogJSON(&list[n]))
	}
	writePageHeaders(w, r, total, page, perPage)
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, out)
}
