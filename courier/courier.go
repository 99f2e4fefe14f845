package courier

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/queue"
	"github.com/latchkey/latchkey/store"
)

// Request asks for one message.
type Request struct {
	// TemplateType is one of the Type* constants.
	TemplateType string
	// Channel is core.ChannelEmail or core.ChannelSMS.
	Channel core.MessageChannel
	// Recipient is an e-mail address or a phone number (E.164).
	Recipient string
	// Language is a BCP 47 tag, usually from Language; anything unsupported
	// falls back to "en".
	Language string
	// Data is the template data: the code or link of the type (LoginCode,
	// RecoveryURL, Code …, see the Type* constants) plus anything a custom
	// template uses. "To" defaults to Recipient and "ServiceName" to the
	// courier's service name.
	Data map[string]any
}

// Options configures a Courier. Zero fields take defaults.
type Options struct {
	// ServiceName is shown in Hanko's messages; default "Latchkey".
	ServiceName string
	// TemplateOverridePath is courier.template_override_path (may be empty).
	TemplateOverridePath string
	// Templates are per-type overrides (courier.templates), keyed by template
	// type.
	Templates map[string]TemplateOverride
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NewID returns a new message id; default a random UUID v4.
	NewID func() string
	// Tracer, when set, gives a queued message the traceparent of the
	// request that queued it (its delivery continues that trace).
	Tracer queue.Tracer
}

// Courier renders messages and puts them in the queue. It is safe for
// concurrent use.
type Courier struct {
	templates   *Templates
	serviceName string
	now         func() time.Time
	newID       func() string
	tracer      queue.Tracer
}

// New builds a Courier, loading the templates. It returns an error when an
// override template cannot be read or parsed.
func New(o Options) (*Courier, error) {
	t, err := NewTemplates(o.TemplateOverridePath, o.Templates)
	if err != nil {
		return nil, err
	}
	c := &Courier{templates: t, serviceName: o.ServiceName, now: o.Now, newID: o.NewID, tracer: o.Tracer}
	if c.serviceName == "" {
		c.serviceName = "Latchkey"
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.newID == nil {
		c.newID = uuid.NewString
	}
	return c, nil
}

// Templates returns the courier's templates.
func (c *Courier) Templates() *Templates { return c.templates }

// Render renders r without queueing it. It returns a *core.Error with
// CodeInvalid for a bad request (unknown type or channel, malformed
// recipient, missing code or link) and a wrapped error when a template
// fails.
func (c *Courier) Render(r Request) (Rendered, map[string]any, error) {
	recipient, err := normalizeRecipient(r.Channel, r.Recipient)
	if err != nil {
		return Rendered{}, nil, err
	}
	data := make(map[string]any, len(r.Data)+2)
	for k, v := range r.Data {
		data[k] = v
	}
	if _, ok := data["To"]; !ok {
		data["To"] = recipient
	}
	if _, ok := data["ServiceName"]; !ok {
		data["ServiceName"] = c.serviceName
	}
	out, err := c.templates.Render(r.TemplateType, r.Channel, r.Language, data)
	if err != nil {
		return Rendered{}, nil, err
	}
	return out, data, nil
}

// Enqueue renders r and writes it as a queued message through tx, so that it
// commits or rolls back with the caller's flow step; pass the Tx of a
// store.Update, or the Store itself outside a transaction. It returns the
// stored message; a *core.Error with CodeInvalid for a bad request, or a
// wrapped store error.
func (c *Courier) Enqueue(ctx context.Context, tx store.Messages, r Request) (*core.Message, error) {
	out, data, err := c.Render(r)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", r.TemplateType, err)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: encode template data: %w", r.TemplateType, err)
	}
	now := c.now().UTC()
	m := &core.Message{
		ID:           c.newID(),
		Channel:      r.Channel,
		Recipient:    strings.TrimSpace(r.Recipient),
		TemplateType: r.TemplateType,
		TemplateData: raw,
		Status:       core.MessageQueued,
		NextAttempt:  now,
		CreatedAt:    now,
		UpdatedAt:    now,
		TraceParent:  queue.TraceParent(c.tracer, ctx),
	}
	if r.Channel == core.ChannelSMS {
		m.Body = out.SMS
	} else {
		m.Subject, m.Body, m.HTMLBody = out.Subject, out.Text, out.HTML
	}
	if err := tx.CreateMessage(ctx, m); err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", r.TemplateType, err)
	}
	return m, nil
}

// normalizeRecipient checks the recipient for the channel: a bare e-mail
// address, or a phone number of digits with an optional leading "+".
func normalizeRecipient(ch core.MessageChannel, recipient string) (string, error) {
	r := strings.TrimSpace(recipient)
	if r == "" {
		return "", &core.Error{Code: core.CodeInvalid, Message: "The message has no recipient.", Field: "recipient"}
	}
	if strings.ContainsAny(r, "\r\n") || len(r) > 320 {
		return "", &core.Error{Code: core.CodeInvalid, Message: "The recipient is malformed.", Field: "recipient"}
	}
	switch ch {
	case core.ChannelEmail:
		a, err := mail.ParseAddress(r)
		if err != nil || a.Address != r {
			return "", &core.Error{Code: core.CodeInvalid, Message: "The recipient is not an e-mail address.", Field: "recipient", Cause: err}
		}
	case core.ChannelSMS:
		digits := strings.TrimPrefix(r, "+")
		if len(digits) < 3 || len(digits) > 20 || strings.Trim(digits, "0123456789") != "" {
			return "", &core.Error{Code: core.CodeInvalid, Message: "The recipient is not a phone number.", Field: "recipient"}
		}
	default:
		return "", core.Errorf(core.CodeInvalid, "Unknown message channel %q.", ch)
	}
	return r, nil
}
