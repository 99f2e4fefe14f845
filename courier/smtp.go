package courier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/latchkey/latchkey/core"
)

// SMTPOptions configures an SMTPSender (courier.smtp.*).
type SMTPOptions struct {
	// ConnectionURI is smtp://[user:pass@]host[:port]/[?disable_starttls=true]
	// [&skip_ssl_verify=true][&server_name=HOST] (STARTTLS when the server offers it, unless
	// disabled; default port 25) or smtps://… (implicit TLS; default port
	// 465). The legacy_ssl parameter of smtps is accepted and ignored.
	ConnectionURI string
	// FromAddress is the envelope and header sender; required.
	FromAddress string
	// FromName is the display name of the sender (may be empty).
	FromName string
	// Headers are added to every mail.
	Headers map[string]string
	// LocalName is the name sent with HELO/EHLO; default the host name.
	LocalName string
	// Timeout bounds connecting and each SMTP command; default 10s.
	Timeout time.Duration
	// ClientCertPath and ClientKeyPath name a PEM client certificate and
	// key for TLS client authentication (both or neither).
	ClientCertPath, ClientKeyPath string
	// TLSConfig, when set, is used as the base TLS configuration (tests
	// use it to trust their own CA).
	TLSConfig *tls.Config
}

// SMTPSender sends e-mail through an SMTP server, as multipart text + HTML.
type SMTPSender struct {
	host       string
	port       int
	implicit   bool
	policy     mail.TLSPolicy
	tlsConfig  *tls.Config
	user, pass string
	from       string
	fromName   string
	headers    map[string]string
	localName  string
	timeout    time.Duration
}

// NewSMTP checks o and returns an SMTPSender. It returns an error when the
// URI is malformed or its scheme is not smtp/smtps, the from address is
// missing or malformed, or a header name or value is unsafe.
func NewSMTP(o SMTPOptions) (*SMTPSender, error) {
	u, err := url.Parse(o.ConnectionURI)
	if err != nil {
		// url.Parse's error quotes the URI, password included.
		return nil, errors.New("smtp: connection uri is malformed")
	}
	s := &SMTPSender{
		host:      u.Hostname(),
		from:      o.FromAddress,
		fromName:  o.FromName,
		headers:   map[string]string{},
		localName: o.LocalName,
		timeout:   o.Timeout,
	}
	if s.host == "" {
		return nil, errors.New("smtp: connection uri has no host")
	}
	q := u.Query()
	skipVerify := isTrue(q.Get("skip_ssl_verify"))
	switch u.Scheme {
	case "smtp":
		s.port = 25
		s.policy = mail.TLSOpportunistic
		if isTrue(q.Get("disable_starttls")) {
			s.policy = mail.NoTLS
		}
	case "smtps":
		s.port = 465
		s.implicit = true
		s.policy = mail.TLSMandatory
	default:
		return nil, fmt.Errorf("smtp: connection uri scheme %q is not smtp or smtps", u.Scheme)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("smtp: connection uri port %q is invalid", p)
		}
		s.port = n
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if o.TLSConfig != nil {
		s.tlsConfig = o.TLSConfig.Clone()
	} else {
		s.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if sn := q.Get("server_name"); sn != "" {
		// Kratos' server_name: the name the certificate must carry when
		// the host is an address or an alias.
		s.tlsConfig.ServerName = sn
	}
	if s.tlsConfig.ServerName == "" {
		s.tlsConfig.ServerName = s.host
	}
	if (o.ClientCertPath == "") != (o.ClientKeyPath == "") {
		return nil, errors.New("smtp: client certificate and key must be given together")
	}
	if o.ClientCertPath != "" {
		cert, err := tls.LoadX509KeyPair(o.ClientCertPath, o.ClientKeyPath)
		if err != nil {
			return nil, fmt.Errorf("smtp: client certificate: %w", err)
		}
		s.tlsConfig.Certificates = append(s.tlsConfig.Certificates, cert)
	}
	s.tlsConfig.InsecureSkipVerify = skipVerify //nolint:gosec // operator's explicit skip_ssl_verify
	if _, err := mailAddress(o.FromAddress); err != nil {
		return nil, fmt.Errorf("smtp: from address: %w", err)
	}
	if strings.ContainsAny(o.FromName, "\r\n") {
		return nil, errors.New("smtp: from name contains a line break")
	}
	for k, v := range o.Headers {
		if k == "" || strings.ContainsAny(k, "\r\n: ") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("smtp: header %q is malformed", k)
		}
		s.headers[k] = v
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	return s, nil
}

func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

func mailAddress(s string) (string, error) {
	if s == "" {
		return "", errors.New("missing")
	}
	m := mail.NewMsg()
	if err := m.From(s); err != nil {
		return "", err
	}
	return s, nil
}

// Send delivers m. It returns a Permanent error when the message cannot be
// built (a malformed recipient) and a plain error, free of credentials, when
// the server cannot be reached or refuses the mail.
func (s *SMTPSender) Send(ctx context.Context, m *core.Message) error {
	if m.Channel != core.ChannelEmail {
		return Permanent(fmt.Errorf("smtp: cannot send a %s message", m.Channel))
	}
	msg := mail.NewMsg()
	var err error
	if s.fromName != "" {
		err = msg.FromFormat(s.fromName, s.from)
	} else {
		err = msg.From(s.from)
	}
	if err != nil {
		return Permanent(fmt.Errorf("smtp: from: %w", err))
	}
	if err := msg.To(m.Recipient); err != nil {
		return Permanent(fmt.Errorf("smtp: recipient: %w", err))
	}
	msg.Subject(cleanSubject(m.Subject))
	for k, v := range s.headers {
		msg.SetGenHeader(mail.Header(k), v)
	}
	msg.SetGenHeader(mail.Header("X-Latchkey-Message-Id"), m.ID)
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	if m.HTMLBody != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTMLBody)
	}

	opts := []mail.Option{
		mail.WithPort(s.port),
		mail.WithTimeout(s.timeout),
		mail.WithTLSConfig(s.tlsConfig),
		mail.WithTLSPolicy(s.policy),
	}
	if s.implicit {
		opts = append(opts, mail.WithSSL())
	}
	if s.localName != "" {
		opts = append(opts, mail.WithHELO(s.localName))
	}
	if s.user != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.user), mail.WithPassword(s.pass))
	}
	client, err := mail.NewClient(s.host, opts...)
	if err != nil {
		return Permanent(fmt.Errorf("smtp: client: %w", err))
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: send to %s: %s", net.JoinHostPort(s.host, strconv.Itoa(s.port)), s.redact(err.Error()))
	}
	return nil
}

// redact removes the password from an error text, in case a library quotes
// it.
func (s *SMTPSender) redact(text string) string {
	if s.pass != "" {
		text = strings.ReplaceAll(text, s.pass, "[redacted]")
	}
	return text
}
