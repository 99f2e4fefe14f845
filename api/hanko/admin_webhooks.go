package hanko

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/webhook"
)

func (h *Handler) mountAdminWebhooks(route func(string, http.HandlerFunc)) {
	route("GET /webhooks", h.listWebhooks)
	route("POST /webhooks", h.createWebhook)
	route("GET /webhooks/{id}", h.getWebhook)
	route("PUT /webhooks/{id}", h.updateWebhook)
	route("DELETE /webhooks/{id}", h.deleteWebhook)
}

// WebhookEventJSON is one event of a stored webhook
// (openapi-admin.yaml DatabaseWebhookEvent). Its id is derived from the
// webhook id and the event name, so it is stable.
type WebhookEventJSON struct {
	ID    string `json:"id"`
	Event string `json:"event"`
}

// DatabaseWebhookJSON is a webhook created through the admin API
// (openapi-admin.yaml DatabaseWebhook).
type DatabaseWebhookJSON struct {
	ID        string             `json:"id"`
	Callback  string             `json:"callback"`
	Enabled   bool               `json:"enabled"`
	Failures  int                `json:"failures"`
	ExpiresAt *time.Time         `json:"expires_at,omitempty"`
	Events    []WebhookEventJSON `json:"events"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// ConfigWebhookJSON is a webhook from the configuration
// (openapi-admin.yaml Webhook).
type ConfigWebhookJSON struct {
	Callback string   `json:"callback"`
	Events   []string `json:"events"`
}

// WebhooksJSON is the answer of GET /webhooks.
type WebhooksJSON struct {
	Database []DatabaseWebhookJSON `json:"database"`
	Config   []ConfigWebhookJSON   `json:"config"`
}

func databaseWebhookJSON(wh *store.Webhook) DatabaseWebhookJSON {
	out := DatabaseWebhookJSON{ID: wh.ID, Callback: wh.Callback, Enabled: wh.Enabled, Failures: wh.Failures,
		Events: make([]WebhookEventJSON, 0, len(wh.Events)), CreatedAt: wh.CreatedAt.UTC(), UpdatedAt: wh.UpdatedAt.UTC()}
	if !wh.ExpiresAt.IsZero() {
		e := wh.ExpiresAt.UTC()
		out.ExpiresAt = &e
	}
	ns, err := uuid.Parse(wh.ID)
	if err != nil {
		ns = uuid.Nil
	}
	for _, e := range wh.Events {
		out.Events = append(out.Events, WebhookEventJSON{ID: uuid.NewSHA1(ns, []byte(e)).String(), Event: e})
	}
	return out
}

// webhookBody is the body of POST /webhooks and PUT /webhooks/{id}.
type webhookBody struct {
	Callback string   `json:"callback"`
	Events   []string `json:"events"`
	Enabled  *bool    `json:"enabled"` // PUT only, required there
}

// check validates b and returns its events without duplicates, or a
// message for a 400.
func (b *webhookBody) check() ([]string, string) {
	u, err := url.Parse(b.Callback)
	if b.Callback == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "callback must be an http(s) URL"
	}
	if len(b.Events) == 0 {
		return nil, "events must name at least one event"
	}
	var events []string
	for _, e := range b.Events {
		e = strings.TrimSpace(e)
		if !config.IsHankoEvent(e) {
			return nil, fmt.Sprintf("%q is not a webhook event; use one of %s", e, strings.Join(config.HankoEvents, ", "))
		}
		if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	return events, ""
}

// listWebhooks answers GET /webhooks: the stored webhooks in creation order
// and those of the configuration.
func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) {
	list, err := h.store.ListWebhooks(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("list webhooks: %w", err))
		return
	}
	out := WebhooksJSON{Database: make([]DatabaseWebhookJSON, 0, len(list)),
		Config: make([]ConfigWebhookJSON, 0, len(h.cfg.Webhooks.Hooks))}
	for n := range list {
		out.Database = append(out.Database, databaseWebhookJSON(&list[n]))
	}
	for _, c := range h.cfg.Webhooks.Hooks {
		out.Config = append(out.Config, ConfigWebhookJSON{Callback: c.Callback, Events: slices.Clone(c.Events)})
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, out)
}

// createWebhook answers POST /webhooks: a new enabled webhook that expires
// 30 days later (if hanko.webhooks.allow_time_expiration is on; the date is
// shown either way, as Hanko does).
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	h.limitBody(w, r)
	var b webhookBody
	if err := api.DecodeJSON(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	if b.Enabled != nil {
		writeError(w, http.StatusBadRequest, "enabled is set with PUT /webhooks/{id}; a new webhook is enabled")
		return
	}
	events, msg := b.check()
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	now := h.now().UTC()
	wh := &store.Webhook{ID: h.newID(), Callback: b.Callback, Events: events, Enabled: true,
		ExpiresAt: now.Add(webhook.ExpireAfter), CreatedAt: now, UpdatedAt: now}
	if err := h.store.CreateWebhook(r.Context(), wh); err != nil {
		h.fail(w, r, fmt.Errorf("create webhook: %w", err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusCreated, databaseWebhookJSON(wh))
}

// webhookID returns the canonical {id}, or writes 400.
func (h *Handler) webhookID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, ok := core.ParseID(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusBadRequest, "id is not a valid UUID")
		return "", false
	}
	return id, true
}

// webhookFail writes 404 for a missing webhook and fails otherwise.
func (h *Handler) webhookFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "webhook not found")
		return
	}
	h.fail(w, r, err)
}

// getWebhook answers GET /webhooks/{id}.
func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request) {
	id, ok := h.webhookID(w, r)
	if !ok {
		return
	}
	wh, err := h.store.GetWebhook(r.Context(), id)
	if err != nil {
		h.webhookFail(w, r, fmt.Errorf("get webhook: %w", err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, databaseWebhookJSON(wh))
}

// updateWebhook answers PUT /webhooks/{id}: callback, events and enabled
// (all required) replace the stored ones; the expiry moves 30 days ahead,
// and enabling a webhook clears its failure count.
func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request) {
	id, ok := h.webhookID(w, r)
	if !ok {
		return
	}
	h.limitBody(w, r)
	var b webhookBody
	if err := api.DecodeJSON(r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	events, msg := b.check()
	if msg == "" && b.Enabled == nil {
		msg = "enabled is required"
	}
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	ctx := r.Context()
	var wh *store.Webhook
	err := h.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if wh, err = tx.GetWebhook(ctx, id); err != nil {
			return err
		}
		now := h.now().UTC()
		if *b.Enabled && !wh.Enabled {
			wh.Failures = 0
		}
		wh.Callback, wh.Events, wh.Enabled = b.Callback, events, *b.Enabled
		wh.ExpiresAt, wh.UpdatedAt = now.Add(webhook.ExpireAfter), now
		return tx.UpdateWebhook(ctx, wh)
	})
	if err != nil {
		h.webhookFail(w, r, fmt.Errorf("update webhook: %w", err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, databaseWebhookJSON(wh))
}

// deleteWebhook answers DELETE /webhooks/{id} with 204; the webhook's
// queued deliveries go with it.
func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, ok := h.webhookID(w, r)
	if !ok {
		return
	}
	if err := h.store.DeleteWebhook(r.Context(), id); err != nil {
		h.webhookFail(w, r, fmt.Errorf("delete webhook: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
