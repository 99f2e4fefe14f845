package courier

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/latchkey/latchkey/config"
)

// OptionsFromConfig returns the Courier options of the courier section:
// the override directory and the per-type template URLs of
// courier.templates (Kratos' key shapes). It returns an error for a template
// the courier has no type for (login_code.invalid, registration_code.invalid).
func OptionsFromConfig(c config.Courier, serviceName string) (Options, error) {
	o := Options{ServiceName: serviceName, TemplateOverridePath: c.TemplateOverridePath, Templates: map[string]TemplateOverride{}}
	t := c.Templates
	pairs := []struct {
		name           string
		pair           config.TemplatePair
		valid, invalid string
	}{
		{"recovery", t.Recovery, TypeRecoveryValid, TypeRecoveryInvalid},
		{"recovery_code", t.RecoveryCode, TypeRecoveryCodeValid, TypeRecoveryCodeInvalid},
		{"verification", t.Verification, TypeVerificationValid, TypeVerificationInvalid},
		{"verification_code", t.VerificationCode, TypeVerificationCodeValid, TypeVerificationCodeInvalid},
		{"login_code", t.LoginCode, TypeLoginCodeValid, ""},
		{"registration_code", t.RegistrationCode, TypeRegistrationCodeValid, ""},
	}
	for _, p := range pairs {
		for _, v := range []struct {
			variant, typ string
			tpl          config.Template
		}{{"valid", p.valid, p.pair.Valid}, {"invalid", p.invalid, p.pair.Invalid}} {
			ov := TemplateOverride{Subject: v.tpl.Email.Subject, Plaintext: v.tpl.Email.Body.Plaintext,
				HTML: v.tpl.Email.Body.HTML, SMS: v.tpl.SMS.Body.Plaintext}
			if ov == (TemplateOverride{}) {
				continue
			}
			if v.typ == "" {
				return Options{}, fmt.Errorf("courier.templates.%s.%s: there is no such message", p.name, v.variant)
			}
			o.Templates[v.typ] = ov
		}
	}
	return o, nil
}

// SendersFromConfig builds the e-mail sender of courier.delivery_strategy
// (SMTP, or HTTP with courier.http.request_config) and the SMS sender of the
// channel with id "sms" (nil when there is none). With dev set and no SMTP
// URI, e-mail goes to a LogSender on log. It returns an error when a sender
// cannot be built from its settings. client, when not nil, sends the HTTP
// senders' requests (cmd/latchkey passes one that records spans).
func SendersFromConfig(c config.Courier, dev bool, log *slog.Logger, client *http.Client) (email, sms Sender, err error) {
	switch {
	case c.DeliveryStrategy == "http":
		email, err = httpFromConfig(c.HTTP.RequestConfig, client)
		if err != nil {
			return nil, nil, fmt.Errorf("courier.http.request_config: %w", err)
		}
	case c.SMTP.ConnectionURI == "" && dev:
		email = NewLogSender(log)
	case c.SMTP.ConnectionURI == "":
		email = nil // no e-mail: messages are abandoned with a dispatch saying so
	default:
		email, err = NewSMTP(SMTPOptions{
			ConnectionURI: c.SMTP.ConnectionURI, FromAddress: c.SMTP.FromAddress, FromName: c.SMTP.FromName,
			Headers: c.SMTP.Headers, LocalName: c.SMTP.LocalName,
			ClientCertPath: c.SMTP.ClientCertPath, ClientKeyPath: c.SMTP.ClientKeyPath,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("courier.smtp: %w", err)
		}
	}
	for i, ch := range c.Channels {
		if ch.ID != "sms" {
			continue
		}
		if ch.Type != "http" {
			return nil, nil, fmt.Errorf("courier.channels[%d].type: %q is not http", i, ch.Type)
		}
		sms, err = httpFromConfig(ch.RequestConfig, client)
		if err != nil {
			return nil, nil, fmt.Errorf("courier.channels[%d].request_config: %w", i, err)
		}
	}
	return email, sms, nil
}

func httpFromConfig(rc config.RequestConfig, client *http.Client) (*HTTPSender, error) {
	o := HTTPOptions{URL: rc.URL, Method: rc.Method, Headers: rc.Headers, Client: client, Auth: HTTPAuth{
		Type: rc.Auth.Type, User: rc.Auth.Config.User, Password: rc.Auth.Config.Password,
		Name: rc.Auth.Config.Name, Value: rc.Auth.Config.Value, In: rc.Auth.Config.In,
	}}
	if rc.Body != "" {
		body, err := fetchTemplate(rc.Body)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		o.BodyTemplate = body
	}
	return NewHTTP(o)
}

// WorkerOptionsFromConfig returns the worker settings of the courier
// section (message_retries, worker.pull_count, worker.pull_wait); the
// caller adds the store and the senders.
func WorkerOptionsFromConfig(c config.Courier) WorkerOptions {
	retries := c.MessageRetries
	return WorkerOptions{MessageRetries: &retries, BatchSize: c.Worker.PullCount, PullWait: c.Worker.PullWait}
}
