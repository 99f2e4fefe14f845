package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

const sessionColumns = `id, identity_id, token_hash, logout_token_hash, active, aal, methods, devices,
	issued_at, authenticated_at, expires_at, created_at, updated_at`

func scanSession(r rowScanner, s *core.Session) error {
	var methods, devices []byte
	err := r.Scan(&s.ID, &s.IdentityID, bytesScan{&s.TokenHash}, bytesScan{&s.LogoutTokenHash},
		&s.Active, &s.AAL, bytesScan{&methods}, bytesScan{&devices},
		timeScan{&s.IssuedAt}, timeScan{&s.AuthenticatedAt}, timeScan{&s.ExpiresAt},
		timeScan{&s.CreatedAt}, timeScan{&s.UpdatedAt})
	if err != nil {
		return err
	}
	if len(methods) > 0 {
		if err := json.Unmarshal(methods, &s.Methods); err != nil {
			return fmt.Errorf("decode session methods: %w", err)
		}
	}
	if len(devices) > 0 {
		if err := json.Unmarshal(devices, &s.Devices); err != nil {
			return fmt.Errorf("decode session devices: %w", err)
		}
	}
	return nil
}

// sessionJSON encodes the methods (times in UTC, microseconds) and devices
// of s.
func sessionJSON(s *core.Session) (methods, devices string, err error) {
	ms := make([]core.AuthMethod, len(s.Methods))
	for k, m := range s.Methods {
		if !m.CompletedAt.IsZero() {
			m.CompletedAt = normTime(m.CompletedAt)
		}
		ms[k] = m
	}
	mb, err := json.Marshal(ms)
	if err != nil {
		return "", "", fmt.Errorf("encode session methods: %w", err)
	}
	ds := s.Devices
	if ds == nil {
		ds = []core.Device{}
	}
	db, err := json.Marshal(ds)
	if err != nil {
		return "", "", fmt.Errorf("encode session devices: %w", err)
	}
	return string(mb), string(db), nil
}

// CreateSession implements store.Sessions.
func (o *ops) CreateSession(ctx context.Context, s *core.Session) error {
	if s == nil || s.ID == "" {
		return errors.New("create session: no session id")
	}
	if len(s.TokenHash) == 0 {
		return fmt.Errorf("create session %s: no token hash", s.ID)
	}
	methods, devices, err := sessionJSON(s)
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	_, err = o.exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.IdentityID, s.TokenHash, bytesArg(s.LogoutTokenHash), s.Active, string(s.AAL),
		methods, devices, o.d.timeArg(s.IssuedAt), o.d.timeArg(s.AuthenticatedAt),
		o.d.timeArg(s.ExpiresAt), o.d.timeArg(s.CreatedAt), o.d.timeArg(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, o.wrap(err))
	}
	return nil
}

func (o *ops) oneSession(ctx context.Context, q string, args ...any) (*core.Session, error) {
	var s core.Session
	if err := scanSession(o.queryRow(ctx, q, args...), &s); err != nil {
		return nil, o.wrap(err)
	}
	return &s, nil
}

// GetSession implements store.Sessions.
func (o *ops) GetSession(ctx context.Context, id string) (*core.Session, error) {
	if !core.IsID(id) {
		return nil, fmt.Errorf("get session %q: %w", id, store.ErrNotFound)
	}
	s, err := o.oneSession(ctx, `SELECT `+o.cols(sessionSelectList)+` FROM sessions WHERE id = ?`+o.forUpdate(), id)
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", id, err)
	}
	return s, nil
}

// GetSessionByTokenHash implements store.Sessions.
func (o *ops) GetSessionByTokenHash(ctx context.Context, h []byte) (*core.Session, error) {
	if len(h) == 0 {
		return nil, fmt.Errorf("get session by token: %w", store.ErrNotFound)
	}
	s, err := o.oneSession(ctx, `SELECT `+o.cols(sessionSelectList)+` FROM sessions WHERE token_hash = ?`+o.forUpdate(), h)
	if err != nil {
		return nil, fmt.Errorf("get session by token: %w", err)
	}
	return s, nil
}

// GetSessionByLogoutTokenHash implements store.Sessions.
func (o *ops) GetSessionByLogoutTokenHash(ctx context.Context, h []byte) (*core.Session, error) {
	if len(h) == 0 {
		return nil, fmt.Errorf("get session by logout token: %w", store.ErrNotFound)
	}
	s, err := o.oneSession(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE logout_token_hash = ?`, h)
	if err != nil {
		return nil, fmt.Errorf("get session by logout token: %w", err)
	}
	return s, nil
}

// UpdateSession implements store.Sessions.
func (o *ops) UpdateSession(ctx context.Context, s *core.Session) error {
	if s == nil {
		return errors.New("update session: session is nil")
	}
	if !core.IsID(s.ID) {
		return fmt.Errorf("update session %q: %w", s.ID, store.ErrNotFound)
	}
	methods, devices, err := sessionJSON(s)
	if err != nil {
		return fmt.Errorf("update session %s: %w", s.ID, err)
	}
	var n int
	if o.d.Flavor == SQLite {
		// SQLite rewrites the entry of every index whose column an UPDATE
		// sets, equal value or not: setting all columns dirtied a page of
		// each of the five indexes of sessions, five pages more in the
		// write-ahead log. A step-up, revocation or device touch keeps the
		// indexed columns, so the update first sets only the others, on the
		// condition that the indexed ones already hold s's values; when they
		// do not, the full update below runs.
		n, err = o.execAffected(ctx, `UPDATE sessions SET active = ?, aal = ?, methods = ?,
			devices = ?, issued_at = ?, authenticated_at = ?, updated_at = ? WHERE id = ?
			AND identity_id = ? AND token_hash = ? AND logout_token_hash IS ? AND expires_at IS ?
			AND created_at IS ?`,
			s.Active, string(s.AAL), methods, devices, o.d.timeArg(s.IssuedAt),
			o.d.timeArg(s.AuthenticatedAt), o.d.timeArg(s.UpdatedAt), s.ID,
			s.IdentityID, s.TokenHash, bytesArg(s.LogoutTokenHash), o.d.timeArg(s.ExpiresAt),
			o.d.timeArg(s.CreatedAt))
		if err != nil {
			return fmt.Errorf("update session %s: %w", s.ID, o.wrap(err))
		}
	}
	if n == 0 {
		n, err = o.execAffected(ctx, `UPDATE sessions SET identity_id = ?, token_hash = ?,
			logout_token_hash = ?, active = ?, aal = ?, methods = ?, devices = ?, issued_at = ?,
			authenticated_at = ?, expires_at = ?, created_at = ?, updated_at = ? WHERE id = ?`,
			s.IdentityID, s.TokenHash, bytesArg(s.LogoutTokenHash), s.Active, string(s.AAL),
			methods, devices, o.d.timeArg(s.IssuedAt), o.d.timeArg(s.AuthenticatedAt),
			o.d.timeArg(s.ExpiresAt), o.d.timeArg(s.CreatedAt), o.d.timeArg(s.UpdatedAt), s.ID)
		if err != nil {
			return fmt.Errorf("update session %s: %w", s.ID, o.wrap(err))
		}
	}
	if n == 0 {
		return fmt.Errorf("update session %s: %w", s.ID, store.ErrNotFound)
	}
	return o.logChange(ctx, s.IdentityID, s.ID)
}

// UpdateSessionMethodsIf implements store.Sessions. It sets no indexed
// column (see UpdateSession); its condition on updated_at holds on every
// database, whose session times all keep microseconds.
func (o *ops) UpdateSessionMethodsIf(ctx context.Context, s *core.Session, seen time.Time) (bool, error) {
	if s == nil {
		return false, errors.New("update session methods: session is nil")
	}
	if !core.IsID(s.ID) || seen.IsZero() {
		return false, nil
	}
	methods, _, err := sessionJSON(s)
	if err != nil {
		return false, fmt.Errorf("update session methods %s: %w", s.ID, err)
	}
	n, err := o.execAffected(ctx, `UPDATE sessions SET aal = ?, methods = ?, authenticated_at = ?, updated_at = ?
		WHERE id = ? AND active = ? AND updated_at = ?`,
		string(s.AAL), methods, o.d.timeArg(s.AuthenticatedAt), o.d.timeArg(s.UpdatedAt), s.ID, true, o.d.timeArg(seen))
	if err != nil {
		return false, fmt.Errorf("update session methods %s: %w", s.ID, o.wrap(err))
	}
	if n == 0 {
		return false, nil
	}
	return true, o.logChange(ctx, s.IdentityID, s.ID)
}

// sessionFilter renders q's filters as conditions.
func (o *ops) sessionFilter(q store.SessionQuery) ([]string, []any, error) {
	var conds []string
	var args []any
	if q.IdentityID != "" {
		conds = append(conds, `identity_id = ?`)
		args = append(args, q.IdentityID)
	}
	if q.ExceptID != "" {
		conds = append(conds, `id <> ?`)
		args = append(args, q.ExceptID)
	}
	if q.Active != nil {
		if q.Now.IsZero() {
			return nil, nil, errors.New("the active filter needs Now")
		}
		now := o.d.timeArg(q.Now)
		if *q.Active {
			conds = append(conds, `active = ? AND expires_at > ?`)
			args = append(args, true, now)
		} else {
			conds = append(conds, `(active = ? OR expires_at <= ?)`)
			args = append(args, false, now)
		}
	}
	return conds, args, nil
}

// ListSessions implements store.Sessions.
func (o *ops) ListSessions(ctx context.Context, q store.SessionQuery) ([]core.Session, error) {
	if malformed(q.IdentityID, q.BeforeID) {
		return nil, nil
	}
	if malformed(q.ExceptID) {
		q.ExceptID = ""
	}
	conds, args, err := o.sessionFilter(q)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	offset := q.Offset
	if !q.BeforeCreatedAt.IsZero() || q.BeforeID != "" {
		c := o.d.timeArg(q.BeforeCreatedAt)
		conds = append(conds, `(created_at < ? OR (created_at = ? AND id < ?))`)
		args = append(args, c, c, q.BeforeID)
		offset = 0
	}
	rows, err := o.query(ctx, `SELECT `+sessionColumns+` FROM sessions`+where(conds)+
		` ORDER BY created_at DESC, id DESC`+limitOffset(q.Limit, offset), args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var list []core.Session
	for rows.Next() {
		var s core.Session
		if err := scanSession(rows, &s); err != nil {
			return nil, fmt.Errorf("list sessions: scan: %w", err)
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// CountSessions implements store.Sessions.
func (o *ops) CountSessions(ctx context.Context, q store.SessionQuery) (int, error) {
	if malformed(q.IdentityID) {
		return 0, nil
	}
	if malformed(q.ExceptID) {
		q.ExceptID = ""
	}
	conds, args, err := o.sessionFilter(q)
	if err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	var n int
	if err := o.queryRow(ctx, `SELECT COUNT(*) FROM sessions`+where(conds), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}

// RevokeSessions implements store.Sessions.
func (o *ops) RevokeSessions(ctx context.Context, identityID, exceptID string) (int, error) {
	if !core.IsID(identityID) {
		return 0, nil
	}
	if malformed(exceptID) {
		exceptID = "" // no session has it
	}
	q := `UPDATE sessions SET active = ? WHERE identity_id = ? AND active = ?`
	args := []any{false, identityID, true}
	if exceptID != "" {
		q += ` AND id <> ?`
		args = append(args, exceptID)
	}
	n, err := o.execAffected(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of %s: %w", identityID, err)
	}
	if n > 0 {
		if err := o.logChange(ctx, identityID, ""); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// DeleteSession implements store.Sessions.
func (o *ops) DeleteSession(ctx context.Context, id string) error {
	if !core.IsID(id) {
		return fmt.Errorf("delete session %q: %w", id, store.ErrNotFound)
	}
	n, err := o.execAffected(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete session %s: %w", id, store.ErrNotFound)
	}
	return o.logChange(ctx, "", id)
}

// DeleteIdentitySessions implements store.Sessions.
func (o *ops) DeleteIdentitySessions(ctx context.Context, identityID string) (int, error) {
	if !core.IsID(identityID) {
		return 0, nil
	}
	n, err := o.execAffected(ctx, `DELETE FROM sessions WHERE identity_id = ?`, identityID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of %s: %w", identityID, err)
	}
	if n > 0 {
		if err := o.logChange(ctx, identityID, ""); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// textTimes rewrites a qualified SELECT list for SQLite so that its time
// columns (the *_at ones) reach the scanner as text: modernc's driver
// converts a DATETIME column by trying up to eight layouts, and each
// layout that fails allocates a parse error (about 20 % of a session
// check's allocations), while timeScan parses the store's own fixed-width
// form at the first try. The expression `x || ”` keeps NULL as NULL.
func textTimes(list string) string {
	parts := strings.Split(list, ",")
	for k, c := range parts {
		c = strings.TrimSpace(c)
		if strings.HasSuffix(c, "_at") {
			c += ` || ''`
		}
		parts[k] = c
	}
	return strings.Join(parts, ", ")
}

// flavored is a SELECT list as written and as textTimes rewrites it; use
// it with (*ops).cols.
type flavored [2]string

func selectList(list string) flavored { return flavored{list, textTimes(list)} }

// cols returns the SELECT list for o's database.
func (o *ops) cols(f flavored) string {
	if o.d.Flavor == SQLite {
		return f[1]
	}
	return f[0]
}

var sessionSelectList = selectList(sessionColumns)

// The session check's statement: the session, its identity and the
// identity's addresses, a row per address (one with NULL address columns
// when there is none). Per flavour: SQLite reads time columns as text.
var (
	sessionIdentitySelect = `SELECT ` + prefixed("s.", sessionColumns) + `, ` + identityColumnsI + `, ` + addressColumnsA
	sessionIdentityFrom   = ` FROM sessions s JOIN identities i ON i.id = s.identity_id
		LEFT JOIN identity_addresses a ON a.identity_id = i.id WHERE `
	sessionIdentityOrder = ` ORDER BY a.created_at, a.id`

	sessionIdentityByTokenHash = map[bool]string{
		false: sessionIdentitySelect + sessionIdentityFrom + `s.token_hash = ?` + sessionIdentityOrder,
		true:  textTimes(sessionIdentitySelect) + sessionIdentityFrom + `s.token_hash = ?` + sessionIdentityOrder,
	}
	sessionIdentityByID = map[bool]string{
		false: sessionIdentitySelect + sessionIdentityFrom + `s.id = ?` + sessionIdentityOrder,
		true:  textTimes(sessionIdentitySelect) + sessionIdentityFrom + `s.id = ?` + sessionIdentityOrder,
	}
)

// GetSessionWithIdentityByTokenHash implements store.Sessions.
func (o *ops) GetSessionWithIdentityByTokenHash(ctx context.Context, h []byte) (*core.Session, *core.Identity, error) {
	if len(h) == 0 {
		return nil, nil, fmt.Errorf("get session by token: %w", store.ErrNotFound)
	}
	s, i, err := o.sessionWithIdentity(ctx, sessionIdentityByTokenHash[o.d.Flavor == SQLite], h)
	if err != nil {
		return nil, nil, fmt.Errorf("get session by token: %w", err)
	}
	return s, i, nil
}

// GetSessionWithCredentialsByTokenHash implements store.Sessions.
func (o *ops) GetSessionWithCredentialsByTokenHash(ctx context.Context, h []byte) (*core.Session, *core.Identity, error) {
	if len(h) == 0 {
		return nil, nil, fmt.Errorf("get session by token: %w", store.ErrNotFound)
	}
	s, i, _, err := o.sessionProfile(ctx, profileByTokenHash, h, "by token")
	return s, i, err
}

// sessionProfiles[flavor][kind] is the session check's statement (by id
// or by token hash) with more columns: the identity's credentials (a row
// per identifier, as loadCredentials reads them) and, for
// profileByIDWithWebAuthn, its WebAuthn credentials, each list as one JSON
// value (jsonRows), so that the session, the identity, its addresses and
// its credentials are one statement. A list is computed again for every
// address row of the identity (one or two, usually).
var sessionProfiles = map[Flavor][3]string{}

// The kinds of sessionProfiles' statements.
const (
	profileByID             = iota // by session id, with credentials
	profileByIDWithWebAuthn        // by session id, with credentials and WebAuthn credentials
	profileByTokenHash             // by token hash, with credentials
)

// credentialsJSON[flavor] is a SELECT list's column with the credentials
// of the identity i of its row, a row per identifier as loadCredentials
// reads them, as one JSON value (jsonRows; addCredentialsJSON decodes it):
// the statement that reads an identity reads its credentials too.
var credentialsJSON = map[Flavor]string{}

func init() {
	for _, f := range []Flavor{SQLite, Postgres, MySQL} {
		sel := sessionIdentitySelect
		if f == SQLite {
			sel = textTimes(sel)
		}
		creds := f.jsonRows(`c.id, c.identity_id, c.type, `+f.jsonTextOf(`c.config`)+`, c.version, c.created_at,
			c.updated_at, ci.identifier`, `FROM identity_credentials c LEFT JOIN identity_credential_identifiers ci
			ON ci.identity_id = c.identity_id AND ci.credential_id = c.id WHERE c.identity_id = i.id`)
		credentialsJSON[f] = creds
		webauthn := f.jsonRows(`w.id, w.identity_id, `+f.hexOf(`w.user_handle`)+`, `+f.hexOf(`w.public_key`)+`,
			w.attestation_type, `+f.hexOf(`w.aaguid`)+`, w.sign_count, w.clone_warning, w.transports, w.backup_eligible,
			w.backup_state, w.user_verified, w.attachment, w.display_name, w.mfa_only, w.created_at, w.updated_at,
			w.last_used_at`, `FROM webauthn_credentials w WHERE w.identity_id = i.id`)
		byID := sessionIdentityFrom + `s.id = ?` + sessionIdentityOrder
		byHash := sessionIdentityFrom + `s.token_hash = ?` + sessionIdentityOrder
		sessionProfiles[f] = [3]string{
			profileByID:             sel + `, ` + creds + byID,
			profileByIDWithWebAuthn: sel + `, ` + creds + `, ` + webauthn + byID,
			profileByTokenHash:      sel + `, ` + creds + byHash,
		}
	}
}

// The positions of webauthnColumns that hold binary values.
var webauthnHexCols = []int{2, 3, 5}

// GetSessionWithIdentity implements store.Sessions.
func (o *ops) GetSessionWithIdentity(ctx context.Context, id string, withCredentials bool) (*core.Session, *core.Identity, error) {
	if !core.IsID(id) {
		return nil, nil, fmt.Errorf("get session %q: %w", id, store.ErrNotFound)
	}
	if withCredentials {
		s, i, _, err := o.sessionProfile(ctx, profileByID, id, id)
		return s, i, err
	}
	s, i, err := o.sessionWithIdentity(ctx, sessionIdentityByID[o.d.Flavor == SQLite], id)
	if err != nil {
		return nil, nil, fmt.Errorf("get session %s: %w", id, err)
	}
	return s, i, nil
}

// GetSessionProfile implements store.Sessions.
func (o *ops) GetSessionProfile(ctx context.Context, id string) (*core.Session, *core.Identity, []core.WebAuthnCredential, error) {
	if !core.IsID(id) {
		return nil, nil, nil, fmt.Errorf("get session %q: %w", id, store.ErrNotFound)
	}
	return o.sessionProfile(ctx, profileByIDWithWebAuthn, id, id)
}

// sessionProfile reads the session arg names (by id or token hash, as kind
// says) with its identity, the identity's addresses and credentials and,
// for profileByIDWithWebAuthn, its WebAuthn credentials (oldest first, as
// ListWebAuthnCredentials lists them; nil for the other kinds) in one
// statement. id names the session in errors.
func (o *ops) sessionProfile(ctx context.Context, kind int, arg any, id string) (*core.Session, *core.Identity, []core.WebAuthnCredential, error) {
	var credsJSON, webauthnJSON []byte
	extra := []any{bytesScan{&credsJSON}}
	withWebAuthn := kind == profileByIDWithWebAuthn
	if withWebAuthn {
		extra = append(extra, bytesScan{&webauthnJSON})
	}
	s, i, err := o.sessionWithIdentity(ctx, sessionProfiles[o.d.Flavor][kind], arg, extra...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("get session %s: %w", id, err)
	}
	if err := addCredentialsJSON(credsJSON, i); err != nil {
		return nil, nil, nil, fmt.Errorf("get session %s: %w", id, err)
	}
	if !withWebAuthn {
		return s, i, nil, nil
	}
	rows, err := decodeJSONRows(webauthnJSON, webauthnHexCols...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("get session %s: webauthn credentials: %w", id, err)
	}
	list := make([]core.WebAuthnCredential, len(rows)) // never nil, as ListWebAuthnCredentials
	for k, r := range rows {
		if err := scanWebAuthnCredential(r, &list[k]); err != nil {
			return nil, nil, nil, fmt.Errorf("get session %s: webauthn credentials: %w", id, err)
		}
	}
	slices.SortFunc(list, func(a, b core.WebAuthnCredential) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return s, i, list, nil
}

// addCredentialsJSON adds to i the credentials of a credentialsJSON value
// read with it.
func addCredentialsJSON(b []byte, i *core.Identity) error {
	creds, err := decodeJSONRows(b)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	// Ordered by credential id and identifier (a credential without
	// identifiers has one row, with a NULL one), so that a credential's
	// rows are consecutive.
	slices.SortFunc(creds, func(a, b jsonRow) int {
		return cmp.Or(strings.Compare(jsonString(a, 0), jsonString(b, 0)), strings.Compare(jsonString(a, 7), jsonString(b, 7)))
	})
	byID := map[string]*core.Identity{i.ID: i}
	var g credentialGroups
	for _, r := range creds {
		if err := g.add(r, byID); err != nil {
			return err
		}
	}
	g.flush(byID)
	return nil
}

// jsonString is the string at position k of r, "" for anything else.
func jsonString(r jsonRow, k int) string {
	s, _ := r[k].(string)
	return s
}

// sessionWithIdentity runs one of the session check's statements; the
// columns after the address's are scanned into extra, from the first row.
func (o *ops) sessionWithIdentity(ctx context.Context, q string, arg any, extra ...any) (*core.Session, *core.Identity, error) {
	rows, err := o.query(ctx, q, arg)
	if err != nil {
		return nil, nil, o.wrap(err)
	}
	defer rows.Close()
	var (
		s                core.Session
		i                core.Identity
		methods, devices []byte
		found            bool
	)
	for rows.Next() {
		var (
			cur core.Session
			a   nullAddress
		)
		dest := []any{&cur.ID, &cur.IdentityID, bytesScan{&cur.TokenHash}, bytesScan{&cur.LogoutTokenHash},
			&cur.Active, &cur.AAL, bytesScan{&methods}, bytesScan{&devices},
			timeScan{&cur.IssuedAt}, timeScan{&cur.AuthenticatedAt}, timeScan{&cur.ExpiresAt},
			timeScan{&cur.CreatedAt}, timeScan{&cur.UpdatedAt},
			&i.ID, &i.SchemaID, bytesScan{(*[]byte)(&i.Traits)}, &i.State,
			timeScan{&i.StateChangedAt}, bytesScan{(*[]byte)(&i.MetadataPublic)},
			bytesScan{(*[]byte)(&i.MetadataAdmin)}, bytesScan{(*[]byte)(&i.MetadataUnsafe)},
			stringScan{&i.ExternalID}, stringScan{&i.OrganizationID}, &i.Locale,
			timeScan{&i.CreatedAt}, timeScan{&i.UpdatedAt},
			&a.id, &a.identityID, &a.via, &a.value, &a.verified, timePtrScan{&a.verifiedAt},
			&a.status, &a.primary, &a.verifiable, &a.recover, timeScan{&a.createdAt}, timeScan{&a.updatedAt}}
		dest = append(dest, extra...)
		if found {
			// Later rows repeat the session and identity: scan only the
			// address into fresh memory, the rest into throwaway values.
			var ti core.Identity
			var tm, td []byte
			dest[6], dest[7] = bytesScan{&tm}, bytesScan{&td}
			dest[13], dest[14], dest[15], dest[16] = &ti.ID, &ti.SchemaID, bytesScan{(*[]byte)(&ti.Traits)}, &ti.State
			dest[17], dest[18] = timeScan{&ti.StateChangedAt}, bytesScan{(*[]byte)(&ti.MetadataPublic)}
			dest[19], dest[20] = bytesScan{(*[]byte)(&ti.MetadataAdmin)}, bytesScan{(*[]byte)(&ti.MetadataUnsafe)}
			dest[21], dest[22], dest[23] = stringScan{&ti.ExternalID}, stringScan{&ti.OrganizationID}, &ti.Locale
			dest[24], dest[25] = timeScan{&ti.CreatedAt}, timeScan{&ti.UpdatedAt}
			for k := range extra {
				dest[len(dest)-len(extra)+k] = discard{}
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, fmt.Errorf("scan session: %w", err)
		}
		if !found {
			s, found = cur, true
		}
		if a.id.Valid {
			i.Addresses = append(i.Addresses, a.address())
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, o.wrap(err)
	}
	if !found {
		return nil, nil, store.ErrNotFound
	}
	if len(methods) > 0 {
		if err := json.Unmarshal(methods, &s.Methods); err != nil {
			return nil, nil, fmt.Errorf("decode session methods: %w", err)
		}
	}
	if len(devices) > 0 {
		if err := json.Unmarshal(devices, &s.Devices); err != nil {
			return nil, nil, fmt.Errorf("decode session devices: %w", err)
		}
	}
	return &s, &i, nil
}
