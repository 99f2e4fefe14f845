package hanko

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/store"
)

// sendEmail implements SendEmail.
func (h *Handler) sendEmail(ctx context.Context, tx store.Tx, templateType, to, language string, data map[string]any) error {
	if h.courier == nil {
		return errors.New("hanko: send e-mail: no courier configured")
	}
	req := courier.Request{TemplateType: templateType, Channel: core.ChannelEmail, Recipient: to, Language: language, Data: data}
	rendered, full, err := h.courier.Render(req)
	if err != nil {
		return fmt.Errorf("hanko: render %s mail: %w", templateType, err)
	}
	if h.cfg.Email.Delivery {
		if _, err := h.courier.Enqueue(ctx, tx, req); err != nil {
			return fmt.Errorf("hanko: enqueue %s mail: %w", templateType, err)
		}
	}
	ev := EmailSendJSON{Subject: rendered.Subject, BodyPlain: rendered.Text, Body: rendered.HTML, ToEmailAddress: to,
		DeliveredByHanko: h.cfg.Email.Delivery, AcceptLanguage: language, Language: language,
		Type: emailSendType(templateType)}
	if c, ok := data["Code"]; ok {
		name, _ := full["ServiceName"].(string)
		ev.Data = EmailPasscodeData{ServiceName: name, OTPCode: fmt.Sprint(c), TTL: int(h.cfg.Passcode.TTL / time.Second),
			ValidUntil: h.now().Add(h.cfg.Passcode.TTL).Unix()}
	} else {
		ev.Data = map[string]any{"service_name": full["ServiceName"]}
	}
	if err := h.emit(ctx, tx, EventEmailSend, ev); err != nil {
		return fmt.Errorf("hanko: queue email.send: %w", err)
	}
	return nil
}

// emailSendType maps a courier template type to the type Hanko's email.send
// event names: the three passcode mails are all "passcode".
func emailSendType(templateType string) string {
	switch templateType {
	case courier.TypeHankoLogin, courier.TypeHankoEmailVerification, courier.TypeHankoRecovery:
		return "passcode"
	}
	return templateType
}
