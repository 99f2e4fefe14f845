package hanko

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/webhook"
)

// Events queues webhook events in the store inside the transaction tx of
// the change that caused them, so an event is sent if and only if the change
// commits; a worker delivers them later. *webhook.Dispatcher satisfies it.
// Enqueue returns a wrapped store error, or an error when data does not
// encode to JSON.
type Events interface {
	Enqueue(ctx context.Context, tx store.Tx, event string, data any) error
}

// Hanko's webhook events (backend/webhooks/events/events.go), plus the
// session events of the issue.
const (
	EventUserCreate               = "user.create"
	EventUserDelete               = "user.delete"
	EventUserLogin                = "user.login"
	EventUserUpdate               = "user.update"
	EventUserUpdateEmailCreate    = "user.update.email.create"
	EventUserUpdateEmailDelete    = "user.update.email.delete"
	EventUserUpdateEmailPrimary   = "user.update.email.primary"
	EventUserUpdateUsernameCreate = "user.update.username.create"
	EventUserUpdateUsernameDelete = "user.update.username.delete"
	EventUserUpdateUsernameUpdate = "user.update.username.update"
	EventEmailSend                = "email.send"
	EventSessionCreate            = "session.create"
	EventSessionDelete            = "session.delete"
)

// emit queues event with data through tx; without Events it does nothing.
func (h *Handler) emit(ctx context.Context, tx store.Tx, event string, data any) error {
	if h.events == nil {
		return nil
	}
	return h.events.Enqueue(ctx, tx, event, data)
}

// eventsOff reports whether no event is queued at all: no Events, or
// Events that say they are disabled (*webhook.Dispatcher's Enabled).
func (h *Handler) eventsOff() bool {
	if h.events == nil {
		return true
	}
	e, ok := h.events.(interface{ Enabled() bool })
	return ok && !e.Enabled()
}

// emitUser queues a user event whose data is the admin view of i, as Hanko
// sends it. With events off it reads nothing.
func (h *Handler) emitUser(ctx context.Context, tx store.Tx, event string, i *core.Identity) error {
	if h.eventsOff() {
		return nil
	}
	creds, err := webauthnCredentials(ctx, tx, i.ID)
	if err != nil {
		return err
	}
	return h.emit(ctx, tx, event, adminUserJSON(i, creds))
}

// SessionEventJSON is the data of the session.* events.
type SessionEventJSON struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	UserAgent string    `json:"user_agent,omitempty"`
	IPAddress string    `json:"ip_address,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func sessionEventData(s *core.Session) SessionEventJSON {
	d := SessionEventJSON{ID: s.ID, UserID: s.IdentityID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
	if n := len(s.Devices); n > 0 {
		d.UserAgent, d.IPAddress = s.Devices[n-1].UserAgent, s.Devices[n-1].IPAddress
	}
	return d
}

// EmailSendJSON is the data of the email.send event (Hanko's
// dto/webhook.EmailSend): with hanko.email.delivery off it is the only way a
// passcode reaches the user, so it carries the code and the language.
type EmailSendJSON struct {
	Subject          string `json:"subject"`
	BodyPlain        string `json:"body_plain"`
	Body             string `json:"body,omitempty"`
	ToEmailAddress   string `json:"to_email_address"`
	DeliveredByHanko bool   `json:"delivered_by_hanko"`
	AcceptLanguage   string `json:"accept_language"` // Hanko's name
	Language         string `json:"language"`        // the language the mail was rendered in
	Type             string `json:"type"`            // passcode, email_login_attempted, email_registration_attempted …
	Data             any    `json:"data"`
}

// EmailPasscodeData is EmailSendJSON.Data for the passcode mails (Hanko's
// PasscodeData).
type EmailPasscodeData struct {
	ServiceName string `json:"service_name"`
	OTPCode     string `json:"otp_code"`
	TTL         int    `json:"ttl"`
	ValidUntil  int64  `json:"valid_until"` // Unix time
}

// SendEmail is the hook the flows call to send a Hanko mail (a passcode or
// an enumeration-safe notice) inside their transaction tx. It enqueues the
// mail through the courier when hanko.email.delivery is on, and always
// queues the email.send webhook event with delivered_by_hanko telling which
// way it went. templateType is a courier template type (courier.TypeHanko*);
// data is that template's data (the code under "Code" for passcodes);
// language comes from X-Language (courier.Language). It returns a wrapped
// courier or store error.
func (h *Handler) SendEmail(ctx context.Context, tx store.Tx, templateType, to, language string, data map[string]any) error {
	return h.sendEmail(ctx, tx, templateType, to, language, data)
}

// SignWebhookToken implements webhook.Signer with the session signing keys:
// the token Hanko sends with every webhook event, with sub "hanko
// webhooks", aud from session.jwt.audience, iat and exp from t, and the
// claims "evt" and "data". It returns an error when t.Data is not JSON or
// signing fails.
func (h *Handler) SignWebhookToken(ctx context.Context, t webhook.Token) (string, error) {
	var data any
	if len(t.Data) > 0 {
		if err := json.Unmarshal(t.Data, &data); err != nil {
			return "", fmt.Errorf("hanko: webhook token data: %w", err)
		}
	}
	tok, err := h.keys.SignJWT(ctx, session.Claims{Subject: webhook.TokenSubject, Audience: h.jwt.Audience,
		IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt, Extra: map[string]any{"evt": t.Event, "data": data}})
	if err != nil {
		return "", fmt.Errorf("hanko: sign webhook token: %w", err)
	}
	return tok, nil
}

var _ webhook.Signer = (*Handler)(nil)
