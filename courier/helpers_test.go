package courier

import (
	"bytes"
	"context"
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

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store/sqlite"
	"github.com/latchkey/latchkey/store/sqlstore"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// received is one mail the test SMTP server accepted.
type received struct {
	From string
	To   []string
	Raw  []byte
	User string // authenticated user, if any
}

// mailbox collects received mails.
type mailbox struct {
	mu    sync.Mutex
	mails []received
	ch    chan received
}

func (b *mailbox) all() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.mails...)
}

// wait returns the next mail or fails t after a timeout.
func (b *mailbox) wait(t *testing.T) received {
	t.Helper()
	select {
	case m := <-b.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail received")
		return received{}
	}
}

type smtpBackend struct {
	box      *mailbox
	user     string
	password string
}

func (be *smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{be: be}, nil
}

type smtpSession struct {
	be   *smtpBackend
	cur  received
	user string
}

func (s *smtpSession) AuthMechanisms() []string {
	if s.be.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.be.user || password != s.be.password {
			return errors.New("invalid credentials")
		}
		s.user = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.be.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from, User: s.user}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Raw = raw
	s.be.box.mu.Lock()
	s.be.box.mails = append(s.be.box.mails, s.cur)
	s.be.box.mu.Unlock()
	select {
	case s.be.box.ch <- s.cur:
	default:
	}
	return nil
}

func (s *smtpSession) Reset()        { s.cur = received{} }
func (s *smtpSession) Logout() error { return nil }

type smtpServerOptions struct {
	addr     string // listen address; default 127.0.0.1:0
	implicit bool   // implicit TLS (smtps)
	user     string // require PLAIN auth with user/password
	password string
}

// startSMTP runs an in-process SMTP server until t ends and returns its
// address and mailbox.
func startSMTP(t *testing.T, o smtpServerOptions) (string, *mailbox, func()) {
	t.Helper()
	box := &mailbox{ch: make(chan received, 100)}
	srv := smtp.NewServer(&smtpBackend{box: box, user: o.user, password: o.password})
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.AllowInsecureAuth = !o.implicit
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if o.implicit {
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
	}
	go func() { _ = srv.Serve(l) }()
	var once sync.Once
	stop := func() { once.Do(func() { _ = srv.Close() }) }
	t.Cleanup(stop)
	return l.Addr().String(), box, stop
}

// freeAddr returns a local address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// parsedMail is a received mail taken apart.
type parsedMail struct {
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	p := parsedMail{Header: m.Header, Subject: subject}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		p.Text = decodePart(t, m.Header.Get("Content-Transfer-Encoding"), m.Body)
		return p
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		body := decodePart(t, part.Header.Get("Content-Transfer-Encoding"), part)
		switch ct {
		case "text/plain":
			p.Text = body
		case "text/html":
			p.HTML = body
		}
	}
	return p
}

func decodePart(t *testing.T, cte string, r io.Reader) string {
	t.Helper()
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read part: %v", err)
	}
	if strings.EqualFold(cte, "base64") {
		var out []byte
		out, err = io.ReadAll(base64Reader(raw))
		if err != nil {
			t.Fatalf("decode base64 part: %v", err)
		}
		return string(out)
	}
	if strings.EqualFold(cte, "quoted-printable") {
		// multipart.Reader decodes quoted-printable parts itself and drops
		// the header; this is a single-part body.
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatalf("decode quoted-printable: %v", err)
		}
		return string(out)
	}
	return string(raw)
}

func base64Reader(raw []byte) io.Reader {
	return base64NewDecoder(bytes.NewReader(bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("\r"), nil), []byte("\n"), nil)))
}

func base64NewDecoder(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }

// openSQLite opens and migrates the SQLite database at dsn.
func openSQLite(t *testing.T, dsn string) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// brief describes a message's delivery state for failure output.
func brief(m *core.Message) string {
	if m == nil {
		return "<nil>"
	}
	var ds []string
	for _, d := range m.Dispatches {
		ds = append(ds, d.Status+":"+d.Error)
	}
	return fmt.Sprintf("{id %s to %s status %s sends %d next %s dispatches %q}",
		m.ID, m.Recipient, m.Status, m.SendCount, m.NextAttempt.Format(time.RFC3339), ds)
}
