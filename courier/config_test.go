package courier

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

func b64(s string) string { return "base64://" + base64.StdEncoding.EncodeToString([]byte(s)) }

func TestSendersFromConfig(t *testing.T) {
	t.Parallel()
	smsChannel := []config.Channel{{ID: "sms", Type: "http", RequestConfig: config.RequestConfig{
		URL: "https://sms.example.com/send", Method: "POST",
		Body: b64(`{"to": {{json .Recipient}}, "text": {{json .Body}}}`)}}}
	tests := []struct {
		name      string
		c         config.Courier
		dev       bool
		wantEmail string
		wantSMS   bool
		wantErr   bool
	}{
		{"smtp", config.Courier{DeliveryStrategy: "smtp", SMTP: config.SMTP{ConnectionURI: "smtp://mail.example.com:587/", FromAddress: "a@example.com"}}, false, "smtp", false, false},
		{"dev without smtp logs", config.Courier{DeliveryStrategy: "smtp", SMTP: config.SMTP{FromAddress: "a@example.com"}}, true, "log", false, false},
		{"no smtp outside dev", config.Courier{DeliveryStrategy: "smtp"}, false, "", false, false},
		{"http strategy and sms channel", config.Courier{DeliveryStrategy: "http", HTTP: config.CourierHTTP{RequestConfig: config.RequestConfig{
			URL: "https://mail.example.com/send", Auth: config.RequestAuth{Type: "basic_auth", Config: config.RequestAuthConfig{User: "u", Password: "p"}}}},
			Channels: smsChannel}, false, "http", true, false},
		{"bad smtp uri", config.Courier{DeliveryStrategy: "smtp", SMTP: config.SMTP{ConnectionURI: "imap://x", FromAddress: "a@example.com"}}, false, "", false, true},
		{"jsonnet sms body", config.Courier{DeliveryStrategy: "smtp", Channels: []config.Channel{{ID: "sms", Type: "http",
			RequestConfig: config.RequestConfig{URL: "https://sms.example.com", Body: b64("function(ctx) { to: ctx.recipient }")}}}}, false, "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			email, sms, err := SendersFromConfig(tc.c, tc.dev, quiet, nil)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kind string
			switch email.(type) {
			case *SMTPSender:
				kind = "smtp"
			case *HTTPSender:
				kind = "http"
			case *LogSender:
				kind = "log"
			}
			if kind != tc.wantEmail {
				t.Errorf("email sender %T, want %s", email, tc.wantEmail)
			}
			if (sms != nil) != tc.wantSMS {
				t.Errorf("sms sender %T", sms)
			}
		})
	}
}

func TestOptionsFromConfig(t *testing.T) {
	t.Parallel()
	c := config.Courier{Templates: config.CourierTemplates{
		RecoveryCode: config.TemplatePair{
			Valid:   config.Template{Email: config.EmailTemplate{Subject: b64("Code {{ .RecoveryCode }}")}},
			Invalid: config.Template{Email: config.EmailTemplate{Body: config.EmailBody{Plaintext: b64("No account for {{ .To }}")}}},
		},
		LoginCode: config.TemplatePair{Valid: config.Template{SMS: config.SMSTemplate{Body: config.SMSBody{Plaintext: b64("Login {{ .LoginCode }}")}}}},
	}}
	o, err := OptionsFromConfig(c, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	cr, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		r    Request
		want func(Rendered) string
		exp  string
	}{
		{"valid subject", Request{TemplateType: TypeRecoveryCodeValid, Channel: core.ChannelEmail, Recipient: "a@example.com", Data: map[string]any{"RecoveryCode": "42"}},
			func(r Rendered) string { return r.Subject }, "Code 42"},
		{"invalid plaintext", Request{TemplateType: TypeRecoveryCodeInvalid, Channel: core.ChannelEmail, Recipient: "a@example.com"},
			func(r Rendered) string { return r.Text }, "No account for a@example.com"},
		{"sms", Request{TemplateType: TypeLoginCodeValid, Channel: core.ChannelSMS, Recipient: "+15550001111", Data: map[string]any{"LoginCode": "7"}},
			func(r Rendered) string { return r.SMS }, "Login 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _, err := cr.Render(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.want(r); got != tc.exp {
				t.Errorf("got %q, want %q", got, tc.exp)
			}
		})
	}

	bad := config.Courier{Templates: config.CourierTemplates{LoginCode: config.TemplatePair{
		Invalid: config.Template{Email: config.EmailTemplate{Subject: b64("x")}}}}}
	if _, err := OptionsFromConfig(bad, ""); err == nil {
		t.Error("login_code.invalid accepted")
	}
	w := WorkerOptionsFromConfig(config.Courier{MessageRetries: 3, Worker: config.CourierWorker{PullCount: 7, PullWait: 2 * time.Second}})
	if *w.MessageRetries != 3 || w.BatchSize != 7 || w.PullWait != 2*time.Second {
		t.Errorf("worker options %+v", w)
	}
}
