package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store/postgres"
	"github.com/latchkey/latchkey/store/storetest"
)

// queryLog records the statements the store runs (it is the store's
// query tracer).
type queryLog struct {
	mu sync.Mutex
	qs []string
}

func (l *queryLog) StartQuery(ctx context.Context, q string) (context.Context, func(error)) {
	l.mu.Lock()
	l.qs = append(l.qs, q)
	l.mu.Unlock()
	return ctx, func(error) {}
}

func (l *queryLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.qs
	l.qs = nil
	return out
}

// planIdentities is how many identities the plan test imports: the issue's
// scale, at which a sequential scan of the identifier table made /me and
// Hanko admin create 8–15× slower.
const planIdentities = 50_000

// TestPlansWithoutStatistics pins that the session checks and identity
// loads are index-driven on a freshly bulk-imported PostgreSQL database
// that was never analysed (autovacuum off): the planner then knows the
// tables' sizes but nothing about their values. It imports 50 000
// identities (address, password credential and identifier each) with SQL,
// runs the store's real statements through the store (recording their
// text with the query tracer), and EXPLAINs each with the same arguments:
// no plan may contain a sequential scan.
func TestPlansWithoutStatistics(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 50 000 identities")
	}
	t.Parallel()
	ctx := context.Background()
	dsn := storetest.PostgresDSN(t)
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, table := range []string{"identities", "identity_addresses", "identity_credentials",
		"identity_credential_identifiers", "sessions", "webauthn_credentials"} {
		if _, err := db.ExecContext(ctx, `ALTER TABLE `+table+` SET (autovacuum_enabled = false)`); err != nil {
			t.Fatal(err)
		}
	}
	// Ids are UUIDs made from md5 of the row number, as a bulk import of
	// random ids would be.
	for _, q := range []string{
		`INSERT INTO identities (id, schema_id, traits, state, state_changed_at, created_at, updated_at)
			SELECT md5('i' || g)::uuid::text, 'default', json_build_object('email', 'u' || g || '@example.com'),
			'active', now(), now(), now() FROM generate_series(1, $1::int) g`,
		`INSERT INTO identity_addresses (id, identity_id, via, value, status, created_at, updated_at)
			SELECT md5('a' || g)::uuid::text, md5('i' || g)::uuid::text, 'email', 'u' || g || '@example.com',
			'pending', now(), now() FROM generate_series(1, $1::int) g`,
		`INSERT INTO identity_credentials (id, identity_id, type, config, version, created_at, updated_at)
			SELECT md5('c' || g)::uuid::text, md5('i' || g)::uuid::text, 'password', '{"hashed_password":"x"}',
			1, now(), now() FROM generate_series(1, $1::int) g`,
		`INSERT INTO identity_credential_identifiers (credential_type, identifier, credential_id, identity_id)
			SELECT 'password', 'u' || g || '@example.com', md5('c' || g)::uuid::text, md5('i' || g)::uuid::text
			FROM generate_series(1, $1::int) g`,
	} {
		if _, err := db.ExecContext(ctx, q, planIdentities); err != nil {
			t.Fatal(err)
		}
	}
	var analysed int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_user_tables
		WHERE relname LIKE 'identit%' AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)`).Scan(&analysed); err != nil {
		t.Fatal(err)
	}
	if analysed != 0 {
		t.Fatalf("%d identity tables have statistics; the test needs none", analysed)
	}

	var id string
	n := planIdentities / 2
	if err := db.QueryRowContext(ctx, `SELECT md5('i' || $1::int)::uuid::text`, n).Scan(&id); err != nil {
		t.Fatal(err)
	}
	identifier := fmt.Sprintf("u%d@example.com", n)
	now := time.Now().UTC()
	sess := &core.Session{ID: "0b6d4f3c-5d0e-4b55-9a57-2f3c0b6e8a11", IdentityID: id, TokenHash: []byte("plan-test-token-hash-0123456789ab"),
		Active: true, AAL: core.AAL1, IssuedAt: now, AuthenticatedAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}

	log := &queryLog{}
	st.Trace(log)
	tests := []struct {
		name string
		run  func() error
		args [][]any // the arguments of each statement the call runs, in order
	}{
		{"session check by token (whoami)", func() error {
			_, _, err := st.GetSessionWithIdentityByTokenHash(ctx, sess.TokenHash)
			return err
		}, [][]any{{sess.TokenHash}}},
		{"session check by id with credentials", func() error {
			_, _, err := st.GetSessionWithIdentity(ctx, sess.ID, true)
			return err
		}, [][]any{{sess.ID}}},
		{"session check with credentials and WebAuthn credentials (/me)", func() error {
			_, _, _, err := st.GetSessionProfile(ctx, sess.ID)
			return err
		}, [][]any{{sess.ID}}},
		{"identity with credentials (admin get, Hanko admin create)", func() error {
			_, err := st.GetIdentity(ctx, id)
			return err
		}, [][]any{{id}}},
		{"identity by identifier (login)", func() error {
			_, err := st.FindIdentityByIdentifier(ctx, core.CredentialPassword, identifier)
			return err
		}, [][]any{{string(core.CredentialPassword), identifier}}},
		{"webauthn credentials (passkey login, /me answered by the session cache)", func() error {
			_, err := st.ListWebAuthnCredentials(ctx, id)
			return err
		}, [][]any{{id}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log.take()
			if err := tc.run(); err != nil {
				t.Fatal(err)
			}
			qs := log.take()
			if len(qs) != len(tc.args) {
				t.Fatalf("ran %d statements, want %d: %q", len(qs), len(tc.args), qs)
			}
			for k, q := range qs {
				var plan string
				if err := db.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) `+q, tc.args[k]...).Scan(&plan); err != nil {
					t.Fatalf("EXPLAIN %s: %v", q, err)
				}
				var nodes []string
				var walk func(v any)
				walk = func(v any) {
					switch x := v.(type) {
					case map[string]any:
						if nt, ok := x["Node Type"].(string); ok {
							rel, _ := x["Relation Name"].(string)
							idx, _ := x["Index Name"].(string)
							nodes = append(nodes, strings.TrimSpace(nt+" "+rel+" "+idx))
						}
						for _, c := range x {
							walk(c)
						}
					case []any:
						for _, c := range x {
							walk(c)
						}
					}
				}
				var doc any
				if err := json.Unmarshal([]byte(plan), &doc); err != nil {
					t.Fatal(err)
				}
				walk(doc)
				t.Logf("statement %d: %v", k+1, nodes)
				for _, nd := range nodes {
					if strings.HasPrefix(nd, "Seq Scan") {
						t.Errorf("statement %d plans a sequential scan (%s) without statistics:\n%s\nplan: %v", k+1, nd, q, nodes)
					}
				}
			}
		})
	}
}
