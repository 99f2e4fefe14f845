package couriertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// WaitTimeout is how long Next, Wait and WaitFor wait for a mail.
const WaitTimeout = 10 * time.Second

// SMTPOptions configures the server StartSMTP runs. The zero value is a
// plain-text server on a free 127.0.0.1 port without authentication.
type SMTPOptions struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// ImplicitTLS serves SMTPS with a self-signed certificate for
	// localhost and 127.0.0.1.
	ImplicitTLS bool
	// User and Password, when User is set, require PLAIN authentication
	// with them before MAIL FROM.
	User, Password string
}

// Mail is one mail the server accepted: its envelope and its content,
// decoded.
type Mail struct {
	// From and To are the envelope sender and recipients as given.
	From string
	To   []string
	// User is the authenticated user, if any.
	User string
	// Raw is the mail as received.
	Raw []byte
	// Header is the mail's header.
	Header mail.Header
	// Subject is the decoded subject; Text and HTML are the decoded
	// text/plain and text/html parts (Text is the whole body of a mail
	// that is not multipart).
	Subject, Text, HTML string
	// ParseError says why Raw could not be decoded in full; Next, Wait and
	// WaitFor fail the test on it.
	ParseError error
}

// Plain is what a reader of the plain-text mail sees: the subject, a line
// break and the text part.
func (m Mail) Plain() string {
	return m.Subject + "\n" + m.Text
}

// SMTPServer is an in-process SMTP server recording what it receives; it
// is safe for concurrent use.
type SMTPServer struct {
	addr string
	srv  *smtp.Server
	once sync.Once

	mu    sync.Mutex
	cond  *sync.Cond
	mails []Mail
	next  int // index of the mail Next returns
}

// StartSMTP runs an SMTP server until t ends (or Close) and returns it. It
// fails t when it cannot listen.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{}
	s.cond = sync.NewCond(&s.mu)
	s.srv = smtp.NewServer(&backend{s: s, user: o.User, password: o.Password})
	s.srv.Domain = "localhost"
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.AllowInsecureAuth = !o.ImplicitTLS
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("couriertest: listen: %v", err)
	}
	if o.ImplicitTLS {
		cert, err := selfSigned()
		if err != nil {
			l.Close()
			t.Fatalf("couriertest: %v", err)
		}
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	s.addr = l.Addr().String()
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(s.Close)
	return s
}

// Addr is the host:port the server listens on.
func (s *SMTPServer) Addr() string { return s.addr }

// Close stops the server; later calls do nothing.
func (s *SMTPServer) Close() {
	s.once.Do(func() { _ = s.srv.Close() })
}

// Mails returns every mail received so far, oldest first.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// To returns the mails received so far with addr (compared
// case-insensitively) among their recipients, oldest first.
func (s *SMTPServer) To(addr string) []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.to(addr)
}

func (s *SMTPServer) to(addr string) []Mail {
	var out []Mail
	for _, m := range s.mails {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Next returns the oldest mail that Next has not returned yet, waiting up
// to WaitTimeout for one; it fails t when none comes or it cannot be
// decoded.
func (s *SMTPServer) Next(t testing.TB) Mail {
	t.Helper()
	m, ok := s.await(func() (Mail, bool) {
		if s.next < len(s.mails) {
			s.next++
			return s.mails[s.next-1], true
		}
		return Mail{}, false
	})
	if !ok {
		t.Fatalf("couriertest: no mail after %s", WaitTimeout)
	}
	return decoded(t, m)
}

// Wait returns the n-th mail (1-based) to addr, waiting up to WaitTimeout
// for it; it fails t when it does not come or cannot be decoded.
func (s *SMTPServer) Wait(t testing.TB, addr string, n int) Mail {
	t.Helper()
	m, ok := s.await(func() (Mail, bool) {
		if list := s.to(addr); len(list) >= n {
			return list[n-1], true
		}
		return Mail{}, false
	})
	if !ok {
		t.Fatalf("couriertest: no mail #%d to %s after %s (have %d)", n, addr, WaitTimeout, len(s.To(addr)))
	}
	return decoded(t, m)
}

// WaitFor returns the newest mail to addr whose Plain text contains substr,
// waiting up to WaitTimeout for one; it fails t when none comes or it
// cannot be decoded.
func (s *SMTPServer) WaitFor(t testing.TB, addr, substr string) Mail {
	t.Helper()
	m, ok := s.await(func() (Mail, bool) {
		list := s.to(addr)
		for i := len(list) - 1; i >= 0; i-- {
			if strings.Contains(list[i].Plain(), substr) {
				return list[i], true
			}
		}
		return Mail{}, false
	})
	if !ok {
		t.Fatalf("couriertest: no mail to %s containing %q after %s", addr, substr, WaitTimeout)
	}
	return decoded(t, m)
}

// await calls find under the lock until it reports a mail, each time one
// arrives, for at most WaitTimeout.
func (s *SMTPServer) await(find func() (Mail, bool)) (Mail, bool) {
	deadline := time.Now().Add(WaitTimeout)
	timer := time.AfterFunc(WaitTimeout, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if m, ok := find(); ok {
			return m, true
		}
		if !time.Now().Before(deadline) {
			return Mail{}, false
		}
		s.cond.Wait()
	}
}

func decoded(t testing.TB, m Mail) Mail {
	t.Helper()
	if m.ParseError != nil {
		t.Fatalf("couriertest: mail to %v: %v", m.To, m.ParseError)
	}
	return m
}

func (s *SMTPServer) add(m Mail) {
	s.mu.Lock()
	s.mails = append(s.mails, m)
	s.cond.Broadcast()
	s.mu.Unlock()
}

type backend struct {
	s              *SMTPServer
	user, password string
}

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{b: b}, nil
}

type session struct {
	b    *backend
	cur  Mail
	user string
}

func (s *session) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.b.user || password != s.b.password {
			return errors.New("invalid credentials")
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = Mail{From: from, User: s.user}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := s.cur
	m.Raw = raw
	m.ParseError = parse(&m)
	s.b.s.add(m)
	return nil
}

func (s *session) Reset()        { s.cur = Mail{} }
func (s *session) Logout() error { return nil }

// parse fills m's Header, Subject, Text and HTML from m.Raw, as far as it
// can; a mail that is not one at all becomes its own Text.
func parse(m *Mail) error {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		m.Text = string(m.Raw)
		return fmt.Errorf("read mail: %w", err)
	}
	m.Header = msg.Header
	var dec mime.WordDecoder
	var errs []error
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		errs = append(errs, fmt.Errorf("decode subject: %w", err))
	}
	ctype := msg.Header.Get("Content-Type")
	if ctype == "" {
		ctype = "text/plain" // RFC 2045's default
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("content type: %w", err))...)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		m.Text, err = decodePart(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return errors.Join(append(errs, err)...)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return errors.Join(errs...)
		}
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("next part: %w", err))...)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		body, err := decodePart(part.Header.Get("Content-Transfer-Encoding"), part)
		if err != nil {
			errs = append(errs, err)
		}
		switch ct {
		case "text/plain":
			m.Text = body
		case "text/html":
			m.HTML = body
		}
	}
}

// decodePart reads a body in the transfer encoding cte. (multipart.Reader
// decodes quoted-printable parts itself and drops the header, so here that
// is a single-part body.)
func decodePart(cte string, r io.Reader) (string, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("read part: %w", err)
	}
	switch strings.ToLower(cte) {
	case "base64":
		out, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(raw), nil)))
		if err != nil {
			return "", fmt.Errorf("decode base64 part: %w", err)
		}
		return string(out), nil
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return "", fmt.Errorf("decode quoted-printable part: %w", err)
		}
		return string(out), nil
	}
	return string(raw), nil
}

// selfSigned returns a certificate for localhost and 127.0.0.1, valid for
// an hour either side of now.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
