package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// inChunk is the most ids bound in one IN list.
const inChunk = 500

const identityColumns = `id, schema_id, traits, state, state_changed_at, metadata_public,
	metadata_admin, metadata_unsafe, external_id, organization_id, locale, created_at, updated_at`

func scanIdentity(r rowScanner, i *core.Identity) error {
	return r.Scan(&i.ID, &i.SchemaID, bytesScan{(*[]byte)(&i.Traits)}, &i.State,
		timeScan{&i.StateChangedAt}, bytesScan{(*[]byte)(&i.MetadataPublic)},
		bytesScan{(*[]byte)(&i.MetadataAdmin)}, bytesScan{(*[]byte)(&i.MetadataUnsafe)},
		stringScan{&i.ExternalID}, stringScan{&i.OrganizationID}, &i.Locale,
		timeScan{&i.CreatedAt}, timeScan{&i.UpdatedAt})
}

const addressColumns = `id, identity_id, via, value, verified, verified_at, status, is_primary,
	verifiable, recovery, created_at, updated_at`

func scanAddress(r rowScanner, a *core.Address) error {
	return r.Scan(&a.ID, &a.IdentityID, &a.Via, &a.Value, &a.Verified, timePtrScan{&a.VerifiedAt},
		&a.Status, &a.Primary, &a.Verifiable, &a.Recovery, timeScan{&a.CreatedAt}, timeScan{&a.UpdatedAt})
}

func checkIdentity(i *core.Identity) error {
	if i == nil {
		return errors.New("identity is nil")
	}
	if i.ID == "" {
		return errors.New("identity has no id")
	}
	for _, a := range i.Addresses {
		if a.ID == "" {
			return errors.New("address has no id")
		}
	}
	for t, c := range i.Credentials {
		if c.ID == "" {
			return fmt.Errorf("%s credential has no id", t)
		}
	}
	return nil
}

// CreateIdentity implements store.Identities.
func (o *ops) CreateIdentity(ctx context.Context, i *core.Identity) error {
	if err := checkIdentity(i); err != nil {
		return fmt.Errorf("create identity: %w", err)
	}
	_, err := o.exec(ctx, `INSERT INTO identities (`+identityColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		i.ID, i.SchemaID, jsonArg(i.Traits), string(i.State), o.d.timeArg(i.StateChangedAt),
		jsonArg(i.MetadataPublic), jsonArg(i.MetadataAdmin), jsonArg(i.MetadataUnsafe),
		nullArg(i.ExternalID), nullArg(i.OrganizationID), i.Locale,
		o.d.timeArg(i.CreatedAt), o.d.timeArg(i.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create identity %s: %w", i.ID, o.wrap(err))
	}
	if err := o.insertIdentityChildren(ctx, i); err != nil {
		return fmt.Errorf("create identity %s: %w", i.ID, err)
	}
	return nil
}

// insertIdentityChildren inserts the addresses, credentials and identifiers
// of i.
func (o *ops) insertIdentityChildren(ctx context.Context, i *core.Identity) error {
	for _, a := range i.Addresses {
		_, err := o.exec(ctx, `INSERT INTO identity_addresses (`+addressColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, i.ID, string(a.Via), a.Value, a.Verified, o.d.timePtrArg(a.VerifiedAt),
			string(a.Status), a.Primary, a.Verifiable, a.Recovery,
			o.d.timeArg(a.CreatedAt), o.d.timeArg(a.UpdatedAt))
		if err != nil {
			return fmt.Errorf("insert address %s %q: %w", a.Via, a.Value, o.wrap(err))
		}
	}
	// Insert in a fixed order so that concurrent writers take locks in the
	// same order.
	types := make([]core.CredentialType, 0, len(i.Credentials))
	for t := range i.Credentials {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		c := i.Credentials[t]
		_, err := o.exec(ctx, `INSERT INTO identity_credentials
			(id, identity_id, type, config, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.ID, i.ID, string(t), jsonArg(c.Config), c.Version,
			o.d.timeArg(c.CreatedAt), o.d.timeArg(c.UpdatedAt))
		if err != nil {
			return fmt.Errorf("insert %s credential: %w", t, o.wrap(err))
		}
		ids := slices.Clone(c.Identifiers)
		slices.Sort(ids)
		for _, id := range slices.Compact(ids) {
			_, err := o.exec(ctx, `INSERT INTO identity_credential_identifiers
				(credential_type, identifier, credential_id, identity_id) VALUES (?, ?, ?, ?)`,
				string(t), id, c.ID, i.ID)
			if err != nil {
				return fmt.Errorf("insert %s identifier %q: %w", t, id, o.wrap(err))
			}
		}
	}
	return nil
}

// GetIdentity implements store.Identities.
func (o *ops) GetIdentity(ctx context.Context, id string) (*core.Identity, error) {
	if !core.IsID(id) {
		return nil, fmt.Errorf("get identity %q: %w", id, store.ErrNotFound)
	}
	i, err := o.oneIdentity(ctx, `identities i`, `i.id = ?`, true, true, id)
	if err != nil {
		return nil, fmt.Errorf("get identity %s: %w", id, err)
	}
	return i, nil
}

// GetIdentityByExternalID implements store.Identities.
func (o *ops) GetIdentityByExternalID(ctx context.Context, externalID string) (*core.Identity, error) {
	if externalID == "" {
		return nil, fmt.Errorf("get identity by external id: %w", store.ErrNotFound)
	}
	i, err := o.oneIdentity(ctx, `identities i`, `i.external_id = ?`, false, true, externalID)
	if err != nil {
		return nil, fmt.Errorf("get identity by external id: %w", err)
	}
	return i, nil
}

// FindIdentityByIdentifier implements store.Identities.
func (o *ops) FindIdentityByIdentifier(ctx context.Context, t core.CredentialType, identifier string) (*core.Identity, error) {
	i, err := o.oneIdentity(ctx, `identity_credential_identifiers ci JOIN identities i ON i.id = ci.identity_id`,
		`ci.credential_type = ? AND ci.identifier = ?`, false, true, string(t), identifier)
	if err != nil {
		return nil, fmt.Errorf("find identity by %s identifier: %w", t, err)
	}
	return i, nil
}

// FindIdentityByAddress implements store.Identities.
func (o *ops) FindIdentityByAddress(ctx context.Context, via core.AddressVia, value string) (*core.Identity, error) {
	i, err := o.oneIdentity(ctx, `identity_addresses fa JOIN identities i ON i.id = fa.identity_id`,
		`fa.via = ? AND fa.value = ?`, false, true, string(via), value)
	if err != nil {
		return nil, fmt.Errorf("find identity by %s address: %w", via, err)
	}
	return i, nil
}

// prefixed qualifies every column of a column list with p.
func prefixed(p, columns string) string {
	parts := strings.Split(columns, ",")
	for k, c := range parts {
		parts[k] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// The identity and address columns qualified for oneIdentity's join.
var (
	identityColumnsI = prefixed("i.", identityColumns)
	addressColumnsA  = prefixed("a.", addressColumns)

	identityAddressSelectList = selectList(identityColumnsI + `, ` + addressColumnsA)
	credentialSelectList      = selectList(`c.id, c.identity_id, c.type, c.config, c.version, c.created_at,
		c.updated_at, ci.identifier`)
)

// oneIdentity loads the identity that from (a FROM clause naming the
// identities table i) and where select, with its addresses and, when
// withCreds, its credentials, or returns store.ErrNotFound. The identity
// and its addresses come from one statement (a LEFT JOIN, a row per
// address), the credentials from a second. When lock is set inside a
// transaction on PostgreSQL or MySQL, the identity row is read FOR UPDATE on
// its own (a row lock cannot apply to the outer join's nullable side) and
// the addresses are loaded after it.
func (o *ops) oneIdentity(ctx context.Context, from, where string, lock, withCreds bool, args ...any) (*core.Identity, error) {
	if lock && o.forUpdate() != "" {
		var i core.Identity
		q := `SELECT ` + identityColumnsI + ` FROM ` + from + ` WHERE ` + where + o.forUpdate()
		if err := scanIdentity(o.queryRow(ctx, q, args...), &i); err != nil {
			return nil, o.wrap(err)
		}
		list := []core.Identity{i}
		if err := o.loadRelations(ctx, list, withCreds); err != nil {
			return nil, err
		}
		return &list[0], nil
	}
	sel := o.cols(identityAddressSelectList)
	if withCreds {
		// The credentials come in the same statement (as the session
		// check's do): one read of the database instead of two.
		sel += `, ` + credentialsJSON[o.d.Flavor]
	}
	rows, err := o.query(ctx, `SELECT `+sel+` FROM `+from+
		` LEFT JOIN identity_addresses a ON a.identity_id = i.id WHERE `+where+` ORDER BY a.created_at, a.id`, args...)
	if err != nil {
		return nil, o.wrap(err)
	}
	defer rows.Close()
	var (
		i         core.Identity
		found     bool
		credsJSON []byte
	)
	for rows.Next() {
		var (
			cur   core.Identity
			a     nullAddress
			extra []any
		)
		if withCreds {
			// The first row's list: later rows repeat it.
			extra = []any{discard{}}
			if !found {
				extra[0] = bytesScan{&credsJSON}
			}
		}
		if err := scanIdentityAddress(rows, &cur, &a, extra...); err != nil {
			return nil, fmt.Errorf("scan identity: %w", err)
		}
		if !found {
			i, found = cur, true
		} else if cur.ID != i.ID {
			continue // the selection matched another identity: keep the first
		}
		if a.id.Valid {
			i.Addresses = append(i.Addresses, a.address())
		}
	}
	if err := rows.Err(); err != nil {
		return nil, o.wrap(err)
	}
	if !found {
		return nil, store.ErrNotFound
	}
	if withCreds {
		if err := addCredentialsJSON(credsJSON, &i); err != nil {
			return nil, fmt.Errorf("load credentials: %w", err)
		}
	}
	return &i, nil
}

// nullAddress holds the address columns of an outer join's row, which are
// all NULL for an identity without addresses.
type nullAddress struct {
	id, identityID, via, value, status     sql.NullString
	verified, primary, verifiable, recover sql.NullBool
	verifiedAt                             *time.Time
	createdAt, updatedAt                   time.Time
}

func (n *nullAddress) address() core.Address {
	return core.Address{ID: n.id.String, IdentityID: n.identityID.String, Via: core.AddressVia(n.via.String),
		Value: n.value.String, Verified: n.verified.Bool, VerifiedAt: n.verifiedAt,
		Status: core.AddressStatus(n.status.String), Primary: n.primary.Bool, Verifiable: n.verifiable.Bool,
		Recovery: n.recover.Bool, CreatedAt: n.createdAt, UpdatedAt: n.updatedAt}
}

// scanIdentityAddress scans a row of identityColumnsI and addressColumnsA,
// and the columns after them into extra.
func scanIdentityAddress(r rowScanner, i *core.Identity, a *nullAddress, extra ...any) error {
	dest := []any{&i.ID, &i.SchemaID, bytesScan{(*[]byte)(&i.Traits)}, &i.State,
		timeScan{&i.StateChangedAt}, bytesScan{(*[]byte)(&i.MetadataPublic)},
		bytesScan{(*[]byte)(&i.MetadataAdmin)}, bytesScan{(*[]byte)(&i.MetadataUnsafe)},
		stringScan{&i.ExternalID}, stringScan{&i.OrganizationID}, &i.Locale,
		timeScan{&i.CreatedAt}, timeScan{&i.UpdatedAt},
		&a.id, &a.identityID, &a.via, &a.value, &a.verified, timePtrScan{&a.verifiedAt},
		&a.status, &a.primary, &a.verifiable, &a.recover, timeScan{&a.createdAt}, timeScan{&a.updatedAt}}
	return r.Scan(append(dest, extra...)...)
}

// loadRelations fills in the addresses and, when withCreds, the credentials
// of the identities.
func (o *ops) loadRelations(ctx context.Context, list []core.Identity, withCreds bool) error {
	if len(list) == 0 {
		return nil
	}
	byID := make(map[string]*core.Identity, len(list))
	ids := make([]string, len(list))
	for k := range list {
		byID[list[k].ID] = &list[k]
		ids[k] = list[k].ID
	}
	for _, chunk := range chunks(ids, inChunk) {
		if err := o.loadAddresses(ctx, chunk, byID); err != nil {
			return err
		}
		if withCreds {
			if err := o.loadCredentials(ctx, chunk, byID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *ops) loadAddresses(ctx context.Context, ids []string, byID map[string]*core.Identity) error {
	rows, err := o.query(ctx, `SELECT `+addressColumns+` FROM identity_addresses
		WHERE identity_id IN (`+placeholders(len(ids))+`) ORDER BY created_at, id`, anys(ids)...)
	if err != nil {
		return fmt.Errorf("load addresses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a core.Address
		if err := scanAddress(rows, &a); err != nil {
			return fmt.Errorf("scan address: %w", err)
		}
		if i := byID[a.IdentityID]; i != nil {
			i.Addresses = append(i.Addresses, a)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load addresses: %w", err)
	}
	return nil
}

// loadCredentials loads the credentials of the identities with their
// identifiers, in one query: a row per identifier (one with a NULL
// identifier for a credential that has none), grouped by credential. The
// join also matches the identifiers' identity_id (always the credential's):
// PostgreSQL then carries the identity filter over to the identifier table
// and reads it through its identity_id index even without table statistics
// (joined on credential_id alone, a freshly imported, never analysed
// database was read with a sequential scan of every identifier).
// TestPlansWithoutStatistics in store/postgres pins this.
func (o *ops) loadCredentials(ctx context.Context, ids []string, byID map[string]*core.Identity) error {
	rows, err := o.query(ctx, `SELECT `+o.cols(credentialSelectList)+`
		FROM identity_credentials c LEFT JOIN identity_credential_identifiers ci
			ON ci.identity_id = c.identity_id AND ci.credential_id = c.id
		WHERE c.identity_id IN (`+placeholders(len(ids))+`) ORDER BY c.id, ci.identifier`, anys(ids)...)
	if err != nil {
		return fmt.Errorf("load credentials: %w", err)
	}
	defer rows.Close()
	var g credentialGroups
	for rows.Next() {
		if err := g.add(rows, byID); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load credentials: %w", err)
	}
	g.flush(byID)
	return nil
}

// credentialGroups gathers rows of credentialSelectList, ordered by
// credential id, into the credentials of the identities of byID: a
// credential's rows (one per identifier) are consecutive.
type credentialGroups struct {
	cur        core.Credential
	identityID string
	have       bool
}

// add scans one row; a row of the next credential stores the previous one.
func (g *credentialGroups) add(r rowScanner, byID map[string]*core.Identity) error {
	var (
		c     core.Credential
		owner string
		ident sql.NullString
	)
	err := r.Scan(&c.ID, &owner, &c.Type, bytesScan{(*[]byte)(&c.Config)},
		&c.Version, timeScan{&c.CreatedAt}, timeScan{&c.UpdatedAt}, &ident)
	if err != nil {
		return fmt.Errorf("scan credential: %w", err)
	}
	if !g.have || c.ID != g.cur.ID {
		g.flush(byID)
		g.cur, g.identityID, g.have = c, owner, true
	}
	if ident.Valid {
		g.cur.Identifiers = append(g.cur.Identifiers, ident.String)
	}
	return nil
}

// flush stores the credential being gathered.
func (g *credentialGroups) flush(byID map[string]*core.Identity) {
	if i := byID[g.identityID]; g.have && i != nil {
		i.SetCredential(g.cur)
	}
}

// UpdateIdentity implements store.Identities.
func (o *ops) UpdateIdentity(ctx context.Context, i *core.Identity) error {
	if err := checkIdentity(i); err != nil {
		return fmt.Errorf("update identity: %w", err)
	}
	if !core.IsID(i.ID) {
		return fmt.Errorf("update identity %q: %w", i.ID, store.ErrNotFound)
	}
	n, err := o.execAffected(ctx, `UPDATE identities SET schema_id = ?, traits = ?, state = ?,
		state_changed_at = ?, metadata_public = ?, metadata_admin = ?, metadata_unsafe = ?,
		external_id = ?, organization_id = ?, locale = ?, created_at = ?, updated_at = ?
		WHERE id = ?`,
		i.SchemaID, jsonArg(i.Traits), string(i.State), o.d.timeArg(i.StateChangedAt),
		jsonArg(i.MetadataPublic), jsonArg(i.MetadataAdmin), jsonArg(i.MetadataUnsafe),
		nullArg(i.ExternalID), nullArg(i.OrganizationID), i.Locale,
		o.d.timeArg(i.CreatedAt), o.d.timeArg(i.UpdatedAt), i.ID)
	if err != nil {
		return fmt.Errorf("update identity %s: %w", i.ID, o.wrap(err))
	}
	if n == 0 {
		return fmt.Errorf("update identity %s: %w", i.ID, store.ErrNotFound)
	}
	if err := o.deleteIdentityChildren(ctx, i.ID); err != nil {
		return fmt.Errorf("update identity %s: %w", i.ID, err)
	}
	if err := o.insertIdentityChildren(ctx, i); err != nil {
		return fmt.Errorf("update identity %s: %w", i.ID, err)
	}
	return o.logChange(ctx, i.ID, "")
}

// deleteIdentityChildren removes the identifiers, credentials and addresses
// of the identity (explicitly, not relying on cascades).
func (o *ops) deleteIdentityChildren(ctx context.Context, id string) error {
	for _, q := range []string{
		`DELETE FROM identity_credential_identifiers WHERE identity_id = ?`,
		`DELETE FROM identity_credentials WHERE identity_id = ?`,
		`DELETE FROM identity_addresses WHERE identity_id = ?`,
	} {
		if _, err := o.exec(ctx, q, id); err != nil {
			return fmt.Errorf("delete identity children: %w", err)
		}
	}
	return nil
}

// DeleteIdentity implements store.Identities.
func (o *ops) DeleteIdentity(ctx context.Context, id string) error {
	if !core.IsID(id) {
		return fmt.Errorf("delete identity %q: %w", id, store.ErrNotFound)
	}
	if err := o.deleteIdentityChildren(ctx, id); err != nil {
		return fmt.Errorf("delete identity %s: %w", id, err)
	}
	if _, err := o.exec(ctx, `DELETE FROM sessions WHERE identity_id = ?`, id); err != nil {
		return fmt.Errorf("delete identity %s sessions: %w", id, err)
	}
	if _, err := o.exec(ctx, `DELETE FROM webauthn_credentials WHERE identity_id = ?`, id); err != nil {
		return fmt.Errorf("delete identity %s webauthn credentials: %w", id, err)
	}
	n, err := o.execAffected(ctx, `DELETE FROM identities WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete identity %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete identity %s: %w", id, store.ErrNotFound)
	}
	return o.logChange(ctx, id, "")
}

// identityFilter renders q's filters (not its paging) as conditions.
func (o *ops) identityFilter(q store.IdentityQuery) ([]string, []any) {
	var conds []string
	var args []any
	if len(q.IDs) > 0 {
		conds = append(conds, `id IN (`+placeholders(len(q.IDs))+`)`)
		args = append(args, anys(q.IDs)...)
	}
	identCond := func(cond string, arg any) {
		sub := `id IN (SELECT identity_id FROM identity_credential_identifiers WHERE ` + cond
		args = append(args, arg)
		if q.CredentialType != "" {
			sub += ` AND credential_type = ?`
			args = append(args, string(q.CredentialType))
		}
		conds = append(conds, sub+`)`)
	}
	if q.CredentialIdentifier != "" {
		identCond(`identifier = ?`, q.CredentialIdentifier)
	}
	if q.IdentifierPrefix != "" {
		identCond(o.d.prefixCond("identifier", q.IdentifierPrefix))
	}
	if q.OrganizationID != "" {
		conds = append(conds, `organization_id = ?`)
		args = append(args, q.OrganizationID)
	}
	return conds, args
}

// pointLookup returns the id when q selects one identity by id and nothing
// else (whoami loads its identity so), which ListIdentities answers like
// GetIdentity: the identity and its addresses in one statement. Every
// filter of store.IdentityQuery must be checked here; Limit cannot matter
// for one row, Offset can.
func pointLookup(q store.IdentityQuery) (string, bool) {
	ok := len(q.IDs) == 1 && q.CredentialIdentifier == "" && q.IdentifierPrefix == "" && q.CredentialType == "" &&
		q.OrganizationID == "" && q.AfterID == "" && q.Offset <= 0
	if !ok {
		return "", false
	}
	return q.IDs[0], true
}

// ListIdentities implements store.Identities.
func (o *ops) ListIdentities(ctx context.Context, q store.IdentityQuery) ([]core.Identity, error) {
	q, ok := wellFormedIdentityQuery(q)
	if !ok {
		return nil, nil
	}
	if id, ok := pointLookup(q); ok {
		i, err := o.oneIdentity(ctx, `identities i`, `i.id = ?`, false, q.WithCredentials, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("list identities: %w", err)
		}
		return []core.Identity{*i}, nil
	}
	conds, args := o.identityFilter(q)
	offset := q.Offset
	if q.AfterID != "" {
		conds = append(conds, `id > ?`)
		args = append(args, q.AfterID)
		offset = 0
	}
	rows, err := o.query(ctx, `SELECT `+identityColumns+` FROM identities`+where(conds)+
		` ORDER BY id`+limitOffset(q.Limit, offset), args...)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	var list []core.Identity
	for rows.Next() {
		var i core.Identity
		if err := scanIdentity(rows, &i); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list identities: scan: %w", err)
		}
		list = append(list, i)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	if err := o.loadRelations(ctx, list, q.WithCredentials); err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	return list, nil
}

// CountIdentities implements store.Identities.
func (o *ops) CountIdentities(ctx context.Context, q store.IdentityQuery) (int, error) {
	q, ok := wellFormedIdentityQuery(q)
	if !ok {
		return 0, nil
	}
	conds, args := o.identityFilter(q)
	var n int
	if err := o.queryRow(ctx, `SELECT COUNT(*) FROM identities`+where(conds), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count identities: %w", err)
	}
	return n, nil
}

// wellFormedIdentityQuery drops malformed ids from q.IDs (no row has them)
// and reports false when q can match nothing: every id it lists, its
// organization or its cursor is malformed.
func wellFormedIdentityQuery(q store.IdentityQuery) (store.IdentityQuery, bool) {
	if len(q.IDs) > 0 {
		ids := make([]string, 0, len(q.IDs))
		for _, id := range q.IDs {
			if core.IsID(id) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return q, false
		}
		q.IDs = ids
	}
	return q, !malformed(q.OrganizationID, q.AfterID)
}

// malformed reports whether one of ids is set but not a canonical id (see
// core.ParseID): a filter or cursor that no row can match.
func malformed(ids ...string) bool {
	for _, id := range ids {
		if id != "" && !core.IsID(id) {
			return true
		}
	}
	return false
}
