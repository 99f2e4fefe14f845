package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// Courier configures the outgoing e-mail and SMS queue.
type Courier struct {
	DeliveryStrategy     string           `koanf:"delivery_strategy" doc:"How e-mail leaves: smtp or http."`
	SMTP                 SMTP             `koanf:"smtp"`
	HTTP                 CourierHTTP      `koanf:"http"`
	Channels             []Channel        `koanf:"channels" doc:"Extra delivery channels (e.g. id \"sms\") as a list of {id, type: http, request_config}."`
	MessageRetries       int              `koanf:"message_retries" doc:"Attempts before a message is abandoned."`
	Worker               CourierWorker    `koanf:"worker"`
	TemplateOverridePath string           `koanf:"template_override_path" doc:"Directory whose templates replace the built-in ones."`
	Templates            CourierTemplates `koanf:"templates"`
}

// SMTP configures delivery over SMTP.
type SMTP struct {
	ConnectionURI  string            `koanf:"connection_uri" doc:"smtp:// (STARTTLS) or smtps:// (implicit TLS) URI with optional user:password; query disable_starttls=true allows cleartext, skip_ssl_verify=true skips certificate checks, server_name=HOST names the certificate's host (Kratos' parameters; legacy_ssl is accepted, smtps:// is always implicit TLS). Required outside --dev when a flow sends e-mail; empty under --dev logs messages instead of sending them." secret:"true"`
	ClientCertPath string            `koanf:"client_cert_path" doc:"Client certificate for SMTP TLS authentication."`
	ClientKeyPath  string            `koanf:"client_key_path" doc:"Private key of the client certificate."`
	FromAddress    string            `koanf:"from_address" doc:"Sender address."`
	FromName       string            `koanf:"from_name" doc:"Sender display name."`
	Headers        map[string]string `koanf:"headers" doc:"Extra headers on every message."`
	LocalName      string            `koanf:"local_name" doc:"Name sent in HELO/EHLO."`
}

// CourierHTTP configures e-mail delivery by HTTP request.
type CourierHTTP struct {
	RequestConfig RequestConfig `koanf:"request_config"`
}

// RequestConfig describes an outgoing HTTP request (Kratos' request_config).
type RequestConfig struct {
	URL     string            `koanf:"url" doc:"Request URL (http:// or https://)."`
	Method  string            `koanf:"method" doc:"Request method." default:"POST"`
	Headers map[string]string `koanf:"headers" doc:"Request headers."`
	Body    string            `koanf:"body" doc:"Jsonnet template of the body (file://, http(s)://, base64://)."`
	Auth    RequestAuth       `koanf:"auth"`
}

// RequestAuth authenticates an outgoing HTTP request.
type RequestAuth struct {
	Type   string            `koanf:"type" doc:"basic_auth or api_key; empty for none."`
	Config RequestAuthConfig `koanf:"config"`
}

// RequestAuthConfig holds the fields of both authentication types.
type RequestAuthConfig struct {
	User     string `koanf:"user" doc:"basic_auth user."`
	Password string `koanf:"password" doc:"basic_auth password." secret:"true"`
	Name     string `koanf:"name" doc:"api_key header or cookie name."`
	Value    string `koanf:"value" doc:"api_key value." secret:"true"`
	In       string `koanf:"in" doc:"api_key placement: header or cookie."`
}

// Channel is an extra courier delivery channel.
type Channel struct {
	ID            string        `koanf:"id" doc:"Channel id, e.g. sms."`
	Type          string        `koanf:"type" doc:"Channel type: http."`
	RequestConfig RequestConfig `koanf:"request_config"`
}

// CourierWorker configures the delivery worker.
type CourierWorker struct {
	PullCount int           `koanf:"pull_count" doc:"Messages claimed per poll."`
	PullWait  time.Duration `koanf:"pull_wait" doc:"Pause between polls."`
}

// CourierTemplates overrides the message templates per message type.
type CourierTemplates struct {
	Recovery         TemplatePair `koanf:"recovery"`
	RecoveryCode     TemplatePair `koanf:"recovery_code"`
	Verification     TemplatePair `koanf:"verification"`
	VerificationCode TemplatePair `koanf:"verification_code"`
	RegistrationCode TemplatePair `koanf:"registration_code"`
	LoginCode        TemplatePair `koanf:"login_code"`
}

// TemplatePair holds the templates for a message to a known (valid) and an
// unknown (invalid) recipient.
type TemplatePair struct {
	Valid   Template `koanf:"valid"`
	Invalid Template `koanf:"invalid"`
}

// Template holds the e-mail and SMS templates of one message variant. Every
// field is a URL: file://, http(s):// or base64://.
type Template struct {
	Email EmailTemplate `koanf:"email"`
	SMS   SMSTemplate   `koanf:"sms"`
}

// EmailTemplate locates an e-mail's subject and bodies.
type EmailTemplate struct {
	Subject string    `koanf:"subject" doc:"Subject template URL."`
	Body    EmailBody `koanf:"body"`
}

// EmailBody locates an e-mail's bodies.
type EmailBody struct {
	Plaintext string `koanf:"plaintext" doc:"Plain-text body template URL."`
	HTML      string `koanf:"html" doc:"HTML body template URL."`
}

// SMSTemplate locates an SMS body.
type SMSTemplate struct {
	Body SMSBody `koanf:"body"`
}

// SMSBody locates an SMS body.
type SMSBody struct {
	Plaintext string `koanf:"plaintext" doc:"SMS body template URL."`
}

func (c *Courier) setDefaults(dev bool) {
	c.DeliveryStrategy = "smtp"
	c.SMTP.FromAddress = "no-reply@localhost"
	c.SMTP.LocalName = "localhost"
	c.MessageRetries = 5
	c.Worker = CourierWorker{PullCount: 10, PullWait: time.Second}
	c.HTTP.RequestConfig.Method = "POST"
	// In --dev an empty connection_uri means "log messages instead of
	// sending them", so a newcomer needs no mail server.
}

func (c *Courier) resolve(*Config, *[]Warning) {
	for i := range c.Channels {
		if c.Channels[i].RequestConfig.Method == "" {
			c.Channels[i].RequestConfig.Method = "POST"
		}
	}
	if c.HTTP.RequestConfig.Method == "" {
		c.HTTP.RequestConfig.Method = "POST"
	}
}

func (c *Courier) validate(cfg *Config, p *Problems) {
	switch c.DeliveryStrategy {
	case "smtp":
		if c.SMTP.ConnectionURI == "" && !cfg.Dev {
			if why := cfg.SelfService.mailUser(); why != "" {
				p.add("courier.smtp.connection_uri", "is required because %s sends e-mail; set it, set courier.delivery_strategy: http, or disable that", why)
			}
		}
	case "http":
		checkRequestConfig(p, "courier.http.request_config", c.HTTP.RequestConfig)
	default:
		p.add("courier.delivery_strategy", "%q is not one of smtp, http", c.DeliveryStrategy)
	}
	if c.SMTP.ConnectionURI != "" {
		u, err := url.Parse(c.SMTP.ConnectionURI)
		if err != nil || !oneOf(u.Scheme, "smtp", "smtps") || u.Host == "" {
			// Never echo the URI: it may hold a password.
			p.add("courier.smtp.connection_uri", "is not an smtp:// or smtps:// URI with a host")
		} else {
			for name := range u.Query() {
				if !oneOf(name, smtpURIParams...) {
					p.add("courier.smtp.connection_uri", "has the query parameter %q, which Latchkey does not know; use %s", name, strings.Join(smtpURIParams, ", "))
				}
			}
		}
	}
	if _, err := mail.ParseAddress(c.SMTP.FromAddress); err != nil {
		p.add("courier.smtp.from_address", "%q is not an e-mail address", c.SMTP.FromAddress)
	}
	if c.MessageRetries < 0 {
		p.add("courier.message_retries", "%d must not be negative", c.MessageRetries)
	}
	if c.Worker.PullCount < 1 {
		p.add("courier.worker.pull_count", "%d must be at least 1", c.Worker.PullCount)
	}
	if c.Worker.PullWait <= 0 {
		p.add("courier.worker.pull_wait", "%s must be positive", c.Worker.PullWait)
	}
	ids := map[string]int{}
	for i, ch := range c.Channels {
		key := fmt.Sprintf("courier.channels[%d]", i)
		if ch.ID == "" {
			p.add(key+".id", "is required")
		} else if j, dup := ids[ch.ID]; dup {
			p.add(key+".id", "%q is also courier.channels[%d].id; channel ids must be unique", ch.ID, j)
		} else {
			ids[ch.ID] = i
		}
		if ch.Type != "http" {
			p.add(key+".type", "%q is not one of http", ch.Type)
		}
		checkRequestConfig(p, key+".request_config", ch.RequestConfig)
	}
	t := c.Templates
	for name, pair := range map[string]TemplatePair{
		"recovery": t.Recovery, "recovery_code": t.RecoveryCode, "verification": t.Verification,
		"verification_code": t.VerificationCode, "registration_code": t.RegistrationCode, "login_code": t.LoginCode,
	} {
		for variant, tp := range map[string]Template{"valid": pair.Valid, "invalid": pair.Invalid} {
			key := "courier.templates." + name + "." + variant
			checkLoaderURL(p, key+".email.subject", tp.Email.Subject, false)
			checkLoaderURL(p, key+".email.body.plaintext", tp.Email.Body.Plaintext, false)
			checkLoaderURL(p, key+".email.body.html", tp.Email.Body.HTML, false)
			checkLoaderURL(p, key+".sms.body.plaintext", tp.SMS.Body.Plaintext, false)
		}
	}
}

func checkRequestConfig(p *Problems, key string, rc RequestConfig) {
	checkHTTPURL(p, key+".url", rc.URL, true)
	checkLoaderURL(p, key+".body", rc.Body, false)
	a := rc.Auth
	switch a.Type {
	case "":
	case "basic_auth":
		if a.Config.User == "" {
			p.add(key+".auth.config.user", "is required for basic_auth")
		}
	case "api_key":
		if a.Config.Name == "" {
			p.add(key+".auth.config.name", "is required for api_key")
		}
		if a.Config.Value == "" {
			p.add(key+".auth.config.value", "is required for api_key")
		}
		if !oneOf(a.Config.In, "header", "cookie") {
			p.add(key+".auth.config.in", "%q is not one of header, cookie", a.Config.In)
		}
	default:
		p.add(key+".auth.type", "%q is not one of basic_auth, api_key", a.Type)
	}
}

// smtpURIParams are the query parameters of courier.smtp.connection_uri
// (Kratos' set).
var smtpURIParams = []string{"disable_starttls", "skip_ssl_verify", "server_name", "legacy_ssl"}
