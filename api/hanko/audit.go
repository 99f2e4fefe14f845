package hanko

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/store"
)

// AuditType is the type of an audit log entry, as Hanko names it
// (openapi-admin.yaml AuditLogTypes).
type AuditType string

// The audit log types Latchkey records.
const (
	AuditUserLoggedOut             AuditType = "user_logged_out"
	AuditPasswordSetSucceeded      AuditType = "password_set_succeeded"
	AuditPasswordSetFailed         AuditType = "password_set_failed"
	AuditPasswordLoginSucceeded    AuditType = "password_login_succeeded"
	AuditPasswordLoginFailed       AuditType = "password_login_failed"
	AuditPasscodeLoginInitSucceded AuditType = "passcode_login_init_succeeded"
	AuditPasscodeLoginInitFailed   AuditType = "passcode_login_init_failed"
	AuditPasscodeLoginSucceeded    AuditType = "passcode_login_final_succeeded"
	AuditPasscodeLoginFailed       AuditType = "passcode_login_final_failed"
	AuditUserCreated               AuditType = "user_created"
	AuditUserDeleted               AuditType = "user_deleted"
	AuditEmailCreated              AuditType = "email_created"
	AuditEmailVerified             AuditType = "email_verified"
	AuditEmailDeleted              AuditType = "email_deleted"
	AuditPrimaryEmailChanged       AuditType = "primary_email_changed"
	AuditLoginSuccess              AuditType = "login_success"
	AuditLoginFailure              AuditType = "login_failure"
	AuditOTPCreated                AuditType = "otp_created"
	AuditPasskeyCreated            AuditType = "passkey_created"
	AuditPasskeyDeleted            AuditType = "passkey_deleted"
	AuditSecurityKeyCreated        AuditType = "security_key_created"
	AuditUsernameChanged           AuditType = "username_changed"
	AuditUsernameDeleted           AuditType = "username_deleted"
	AuditPasswordChanged           AuditType = "password_changed"
	AuditPasswordDeleted           AuditType = "password_deleted"
)

// Audit records audit log entries; the flows call it for every login, failed
// login, registration and credential change. It is a no-op when
// hanko.audit_log.enabled is off.
//
// Audit writes through tx, so an entry describing a change commits with it;
// pass the Store itself for events that change nothing (a failed login).
// actorID and actorEmail may be empty; cause, when not nil, is stored as the
// entry's error text (its client message only, never internals). Record
// returns a wrapped store error; callers that must not fail because of the
// audit log log it and go on.
func (h *Handler) Audit(ctx context.Context, tx store.Tx, r *http.Request, typ AuditType, actorID, actorEmail string, cause error) error {
	if !h.cfg.AuditLog.Enabled {
		return nil
	}
	now := h.now()
	l := &store.AuditLog{ID: h.newID(), Type: string(typ), ActorUserID: actorID, ActorEmail: actorEmail,
		CreatedAt: now, UpdatedAt: now}
	if h.cfg.AuditLog.MaskEmail {
		l.ActorEmail = maskEmail(actorEmail)
	}
	if r != nil {
		l.RequestID = api.RequestID(r.Context())
		l.SourceIP = api.ClientIP(r)
		l.UserAgent = r.UserAgent()
	}
	if cause != nil {
		l.Error = auditMessage(cause)
	}
	if err := tx.CreateAuditLog(ctx, l); err != nil {
		return fmt.Errorf("hanko: audit %s: %w", typ, err)
	}
	return nil
}

// record is Audit on the Store for handlers of the public and admin API; a
// failure is logged and does not fail the request.
func (h *Handler) record(r *http.Request, typ AuditType, actorID, actorEmail string, cause error) {
	if err := h.Audit(r.Context(), h.store, r, typ, actorID, actorEmail, cause); err != nil {
		h.log.ErrorContext(r.Context(), "hanko: write audit log", "type", typ, "error", err)
	}
}

// auditMessage is the error text stored with an entry: the client-safe
// message of a domain error.
func auditMessage(err error) string {
	msg := errorMessage(err)
	if len(msg) > 512 {
		msg = msg[:512]
	}
	return msg
}

// maskEmail keeps the first letter of the local part and the domain:
// jane@example.com becomes j***@example.com.
func maskEmail(a string) string {
	at := strings.LastIndexByte(a, '@')
	if at < 1 {
		return a
	}
	return a[:1] + "***" + a[at:]
}
