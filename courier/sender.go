package courier

import (
	"context"
	"errors"

	"github.com/latchkey/latchkey/core"
)

// Sender delivers one message. Send returns nil when the message was handed
// over (to the SMTP server or HTTP endpoint); a failure the worker should
// retry as a plain error; and a failure no retry can fix (a malformed
// message, a rejected recipient) wrapped with Permanent. Error texts must not
// contain secrets: they are stored with the dispatch and shown in the admin
// API.
type Sender interface {
	Send(ctx context.Context, m *core.Message) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, m *core.Message) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, m *core.Message) error { return f(ctx, m) }

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as a delivery failure that retrying cannot fix: the
// worker abandons the message at once. It returns nil for a nil err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
