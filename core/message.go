package core

import (
	"encoding/json"
	"time"
)

// MessageStatus is where a courier message stands.
type MessageStatus string

// Kratos' courier message statuses.
const (
	MessageQueued     MessageStatus = "queued"
	MessageProcessing MessageStatus = "processing"
	MessageSent       MessageStatus = "sent"
	MessageAbandoned  MessageStatus = "abandoned"
)

// MessageChannel is how a message is delivered.
type MessageChannel string

// Delivery channels.
const (
	ChannelEmail MessageChannel = "email"
	ChannelSMS   MessageChannel = "sms"
)

// Message is an e-mail or SMS in the courier queue. It is written in the same
// transaction as the flow step that caused it.
type Message struct {
	ID           string
	Channel      MessageChannel
	Recipient    string
	Subject      string
	Body         string // plain text
	HTMLBody     string // empty for SMS
	TemplateType string
	TemplateData json.RawMessage
	Status       MessageStatus
	SendCount    int
	NextAttempt  time.Time // the worker does not claim it before this time
	Dispatches   []Dispatch
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// TraceParent is the W3C traceparent of the request that queued the
	// message ("" outside a traced request); its delivery continues that
	// trace.
	TraceParent string
}

// Dispatch is one delivery attempt of a message.
type Dispatch struct {
	ID        string
	MessageID string
	Status    string // "success" or "failed"
	Error     string // empty on success
	CreatedAt time.Time
}
