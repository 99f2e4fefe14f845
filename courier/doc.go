// Package courier is Latchkey's outgoing message queue: every code, link and
// notification either face sends is rendered here from a template in the
// recipient's language, written to the store in the same transaction as the
// flow step that caused it, and delivered later by a Worker over SMTP, HTTP
// or an SMS channel, with retries and exponential backoff.
//
// The pieces:
//
//   - Courier renders a Request (template type, channel, recipient, language,
//     data) and enqueues it through a store transaction (Enqueue).
//   - Templates are embedded for every message type in nine languages; an
//     operator may replace any of them from a directory or per template URL
//     (file://, base64://).
//   - Sender is the delivery seam: SMTPSender (go-mail), HTTPSender (e-mail
//     over an HTTP API, or an SMS gateway) and LogSender (development mode).
//   - Worker claims queued messages (row locks on PostgreSQL and MySQL, so
//     replicas never send one twice), sends them, records a dispatch for every
//     attempt and marks them sent, queued for a later retry, or abandoned.
//   - OptionsFromConfig, SendersFromConfig and WorkerOptionsFromConfig turn
//     the courier.* configuration into the constructors' inputs, for
//     cmd/latchkey to wire (serve, and courier watch).
package courier
