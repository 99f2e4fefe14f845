package kratos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/store"
)

// Pagination of GET /admin/courier/messages (notes §7: keyset, default size
// 10; the spec caps page_size at 1000).
const (
	courierPageSizeDefault = 10
	courierPageSizeMax     = 1000
)

// CourierMessageJSON is Kratos' courier message (the spec's message).
// Dispatches are present only on GET /admin/courier/messages/{id}.
type CourierMessageJSON struct {
	ID           string                `json:"id"`
	Status       core.MessageStatus    `json:"status"`
	Type         string                `json:"type"`
	Recipient    string                `json:"recipient"`
	Body         string                `json:"body"`
	Subject      string                `json:"subject"`
	Channel      string                `json:"channel,omitempty"`
	TemplateType string                `json:"template_type"`
	SendCount    int                   `json:"send_count"`
	Dispatches   []CourierDispatchJSON `json:"dispatches,omitempty"`
	CreatedAt    time.Time             `json:"created_at"`
	UpdatedAt    time.Time             `json:"updated_at"`
}

// CourierDispatchJSON is Kratos' messageDispatch: one delivery attempt.
// Error is {"message": "..."} for a failed attempt and absent otherwise.
type CourierDispatchJSON struct {
	ID        string          `json:"id"`
	MessageID string          `json:"message_id"`
	Status    string          `json:"status"`
	Error     json.RawMessage `json:"error,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// MountCourier registers Kratos' courier admin routes on the admin mux:
// GET /admin/courier/messages (filters status and recipient, keyset
// pagination with page_token/page_size and a Link header) and
// GET /admin/courier/messages/{id} (with dispatches). messages is usually
// the store.Store.
func (h *Handler) MountCourier(mux *http.ServeMux, messages store.Messages) {
	c := courierHandler{h: h, messages: messages}
	mux.HandleFunc("GET /admin/courier/messages", h.get(c.list))
	mux.HandleFunc("GET /admin/courier/messages/{id}", h.get(c.show))
}

type courierHandler struct {
	h        *Handler
	messages store.Messages
}

// list serves GET /admin/courier/messages.
func (c courierHandler) list(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	size, err := PageSize(qs, courierPageSizeDefault, courierPageSizeMax)
	if err != nil {
		c.h.errs.Write(w, r, err)
		return
	}
	q := store.MessageQuery{Recipient: qs.Get("recipient"), Limit: size + 1}
	if !utf8.ValidString(q.Recipient) || strings.ContainsRune(q.Recipient, 0) {
		// No address has these, and PostgreSQL refuses to compare them.
		c.h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "recipient",
			Message: "The recipient filter contains a NUL character or invalid UTF-8."})
		return
	}
	if s := qs.Get("status"); s != "" {
		switch st := core.MessageStatus(s); st {
		case core.MessageQueued, core.MessageProcessing, core.MessageSent, core.MessageAbandoned:
			q.Status = st
		default:
			c.h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "status",
				Message: fmt.Sprintf("The status %q is not one of queued, processing, sent, abandoned.", s)})
			return
		}
	}
	if tok := qs.Get("page_token"); tok != "" {
		t, err := ParseSessionToken(tok)
		if err != nil {
			c.h.errs.Write(w, r, err)
			return
		}
		if t != defaultSessionToken {
			q.BeforeCreatedAt, q.BeforeID = t.CreatedAt, t.ID
		}
	}
	list, err := c.messages.ListMessages(r.Context(), q)
	if err != nil {
		c.h.errs.Write(w, r, &core.Error{Code: core.CodeInternal, Message: "The courier store failed.", Cause: err})
		return
	}
	next := ""
	if len(list) > size {
		list = list[:size]
		last := list[len(list)-1]
		next = SessionToken{ID: last.ID, CreatedAt: last.CreatedAt}.Encode()
	}
	out := make([]CourierMessageJSON, 0, len(list))
	for i := range list {
		out = append(out, courierMessageView(&list[i]))
	}
	KeysetLinks(w, r, size, defaultSessionToken.Encode(), next)
	api.WriteJSON(w, http.StatusOK, out)
}

// show serves GET /admin/courier/messages/{id}.
func (c courierHandler) show(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, ok := core.ParseID(raw)
	if !ok {
		c.h.errs.Write(w, r, &core.Error{Code: core.CodeInvalid, Field: "id",
			Message: fmt.Sprintf("The message id %q is not a valid UUID.", raw)})
		return
	}
	m, err := c.messages.GetMessage(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.h.errs.Write(w, r, &core.Error{Code: core.CodeNotFound,
			Message: fmt.Sprintf("The courier message %q does not exist.", id), Cause: err})
		return
	case err != nil:
		c.h.errs.Write(w, r, &core.Error{Code: core.CodeInternal, Message: "The courier store failed.", Cause: err})
		return
	}
	v := courierMessageDetail{CourierMessageJSON: courierMessageView(m),
		Dispatches: make([]CourierDispatchJSON, 0, len(m.Dispatches))}
	for _, d := range m.Dispatches {
		dj := CourierDispatchJSON{ID: d.ID, MessageID: d.MessageID, Status: d.Status,
			CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.CreatedAt.UTC()}
		if d.Error != "" {
			dj.Error, _ = json.Marshal(map[string]string{"message": d.Error})
		}
		v.Dispatches = append(v.Dispatches, dj)
	}
	api.WriteJSON(w, http.StatusOK, v)
}

// courierMessageDetail is a message with its dispatches, always present
// (an empty list before the first attempt).
type courierMessageDetail struct {
	CourierMessageJSON
	Dispatches []CourierDispatchJSON `json:"dispatches"`
}

// courierMessageView converts a message to Kratos' shape. The spec's message
// type is "email" or "phone"; the body is the plain-text body. Hanko's
// template types are outside the spec's template_type enum, so they are
// shown as their nearest Kratos type, or "stub" for notifications.
func courierMessageView(m *core.Message) CourierMessageJSON {
	typ := "email"
	if m.Channel == core.ChannelSMS {
		typ = "phone"
	}
	return CourierMessageJSON{
		ID: m.ID, Status: m.Status, Type: typ, Recipient: m.Recipient, Body: m.Body, Subject: m.Subject,
		Channel: string(m.Channel), TemplateType: kratosTemplateType(m.TemplateType), SendCount: m.SendCount,
		CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
}

func kratosTemplateType(t string) string {
	switch t {
	case courier.TypeRecoveryCodeValid, courier.TypeRecoveryCodeInvalid, courier.TypeRecoveryValid,
		courier.TypeRecoveryInvalid, courier.TypeVerificationCodeValid, courier.TypeVerificationCodeInvalid,
		courier.TypeVerificationValid, courier.TypeVerificationInvalid, courier.TypeLoginCodeValid,
		courier.TypeRegistrationCodeValid, "stub", "verifiable_address_changed", "authenticator_key_added":
		return t
	case courier.TypeHankoLogin:
		return courier.TypeLoginCodeValid
	case courier.TypeHankoEmailVerification:
		return courier.TypeVerificationCodeValid
	case courier.TypeHankoRecovery:
		return courier.TypeRecoveryCodeValid
	default:
		return "stub"
	}
}
