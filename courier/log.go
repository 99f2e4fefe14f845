package courier

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/latchkey/latchkey/core"
)

// LogSender "delivers" messages by logging them: recipient, subject and the
// code or link. It is for development (--dev with no SMTP server), so a
// newcomer can finish a passcode login without a mail server. Never use it
// in production: it writes secrets to the log.
type LogSender struct {
	log *slog.Logger
}

// NewLogSender returns a LogSender writing to log (slog.Default() if nil).
func NewLogSender(log *slog.Logger) *LogSender {
	if log == nil {
		log = slog.Default()
	}
	return &LogSender{log: log}
}

// Send logs m at Info level and never fails.
func (s *LogSender) Send(ctx context.Context, m *core.Message) error {
	attrs := []any{
		slog.String("message_id", m.ID),
		slog.String("channel", string(m.Channel)),
		slog.String("recipient", m.Recipient),
		slog.String("template_type", m.TemplateType),
	}
	if m.Subject != "" {
		attrs = append(attrs, slog.String("subject", m.Subject))
	}
	var data map[string]any
	if len(m.TemplateData) > 0 && json.Unmarshal(m.TemplateData, &data) == nil {
		for _, k := range secretKeys {
			if v, ok := data[k]; ok && v != nil {
				attrs = append(attrs, slog.String(k, fmt.Sprint(v)))
			}
		}
	}
	if m.Channel == core.ChannelSMS {
		attrs = append(attrs, slog.String("body", m.Body))
	}
	s.log.InfoContext(ctx, "courier (dev mode): message not sent, logged instead", attrs...)
	return nil
}
