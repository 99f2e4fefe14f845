package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// testDSNs returns a fresh, empty database's DSN per backend: SQLite
// always, PostgreSQL and MySQL as the environment configures them.
func testDSNs(t *testing.T) map[string]string {
	t.Helper()
	dsns := map[string]string{"sqlite": "sqlite://" + filepath.Join(t.TempDir(), "latchkey.db")}
	for name, env := range map[string]string{"postgres": storetest.PostgresEnv, "mysql": storetest.MySQLEnv} {
		if os.Getenv(env) == "" && os.Getenv("CI") == "" {
			continue
		}
		if name == "postgres" {
			dsns[name] = storetest.PostgresDSN(t)
		} else {
			dsns[name] = storetest.MySQLDSN(t)
		}
	}
	return dsns
}

// TestCleanupCommand runs `latchkey cleanup sql DSN --keep-last` (Kratos'
// form) and `latchkey cleanup --dsn` on every backend: expired flows and
// sessions past the grace period, finished messages, old audit logs and
// expired trusted devices go; everything else stays.
func TestCleanupCommand(t *testing.T) {
	for name, dsn := range testDSNs(t) {
		t.Run(name, func(t *testing.T) {
			t.Setenv("LATCHKEY_DSN", "")
			ctx := context.Background()
			if out, err := runCLI(t, "migrate", "sql", "--dsn", dsn); err != nil {
				t.Fatalf("migrate: %v\n%s", err, out)
			}
			db, err := openBackend(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			now := time.Now().UTC()
			id := seedIdentity(t, db)
			mkFlow := func(exp time.Time) string {
				f := &core.Flow{ID: newUUID(t), Kind: core.FlowLogin, Face: "kratos", Type: "api", State: "s",
					Stash: json.RawMessage(`{}`), CSRFToken: "c", ExpiresAt: exp, CreatedAt: now.Add(-48 * time.Hour), UpdatedAt: now}
				if err := db.CreateFlow(ctx, f); err != nil {
					t.Fatal(err)
				}
				return f.ID
			}
			mkSession := func(exp time.Time) string {
				s := &core.Session{ID: newUUID(t), IdentityID: id, TokenHash: []byte(newUUID(t)), Active: true, AAL: core.AAL1,
					IssuedAt: now.Add(-72 * time.Hour), AuthenticatedAt: now.Add(-72 * time.Hour), ExpiresAt: exp,
					CreatedAt: now.Add(-72 * time.Hour), UpdatedAt: now}
				if err := db.CreateSession(ctx, s); err != nil {
					t.Fatal(err)
				}
				return s.ID
			}
			mkMessage := func(st core.MessageStatus, at time.Time) string {
				m := &core.Message{ID: newUUID(t), Channel: core.ChannelEmail, Recipient: "a@example.com", Subject: "s", Body: "b",
					TemplateType: "x", Status: st, NextAttempt: at, CreatedAt: at, UpdatedAt: at}
				if err := db.CreateMessage(ctx, m); err != nil {
					t.Fatal(err)
				}
				return m.ID
			}
			oldFlow, graceFlow, liveFlow := mkFlow(now.Add(-3*time.Hour)), mkFlow(now.Add(-30*time.Minute)), mkFlow(now.Add(time.Hour))
			oldSess, graceSess, liveSess := mkSession(now.Add(-3*time.Hour)), mkSession(now.Add(-30*time.Minute)), mkSession(now.Add(time.Hour))
			sentOld, queuedOld, sentNew := mkMessage(core.MessageSent, now.Add(-8*24*time.Hour)), mkMessage(core.MessageQueued, now.Add(-8*24*time.Hour)), mkMessage(core.MessageSent, now)
			for _, at := range []time.Time{now.Add(-100 * 24 * time.Hour), now} {
				if err := db.CreateAuditLog(ctx, &store.AuditLog{ID: newUUID(t), Type: "user_created", CreatedAt: at, UpdatedAt: at}); err != nil {
					t.Fatal(err)
				}
			}

			// Trusted devices go as soon as they expire: the grace period
			// is for flows and sessions only.
			mkDevice := func(exp time.Time) string {
				d := &store.TrustedDevice{ID: newUUID(t), IdentityID: id, TokenHash: []byte(newUUID(t)), ExpiresAt: exp, CreatedAt: now.Add(-96 * time.Hour)}
				if err := db.CreateTrustedDevice(ctx, d, 10); err != nil {
					t.Fatal(err)
				}
				return d.ID
			}
			oldDev, recentDev, liveDev := mkDevice(now.Add(-3*time.Hour)), mkDevice(now.Add(-30*time.Minute)), mkDevice(now.Add(time.Hour))

			out, err := runCLI(t, "cleanup", "sql", dsn, "--keep-last", "1h", "--batch-size", "1", "--json")
			if err != nil {
				t.Fatalf("cleanup sql: %v\n%s", err, out)
			}
			var res struct{ Deleted swept }
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("cleanup --json printed %q: %v", out, err)
			}
			want := swept{Flows: 1, Sessions: 1, Messages: 1, AuditLogs: 1, Devices: 2}
			if res.Deleted != want {
				t.Fatalf("cleanup deleted %+v, want %+v", res.Deleted, want)
			}
			for _, id := range []string{graceFlow, liveFlow} {
				if _, err := db.GetFlow(ctx, id); err != nil {
					t.Errorf("flow %s gone: %v", id, err)
				}
			}
			if _, err := db.GetFlow(ctx, oldFlow); err == nil {
				t.Error("the flow expired 3h ago is still there")
			}
			for _, id := range []string{graceSess, liveSess} {
				if _, err := db.GetSession(ctx, id); err != nil {
					t.Errorf("session %s gone: %v", id, err)
				}
			}
			if _, err := db.GetSession(ctx, oldSess); err == nil {
				t.Error("the session expired 3h ago is still there")
			}
			for _, id := range []string{queuedOld, sentNew} {
				if _, err := db.GetMessage(ctx, id); err != nil {
					t.Errorf("message %s gone: %v", id, err)
				}
			}
			if _, err := db.GetMessage(ctx, sentOld); err == nil {
				t.Error("the message sent 8 days ago is still there")
			}
			if _, err := db.GetTrustedDevice(ctx, liveDev); err != nil {
				t.Errorf("unexpired trusted device gone: %v", err)
			}
			for _, id := range []string{oldDev, recentDev} {
				if _, err := db.GetTrustedDevice(ctx, id); err == nil {
					t.Errorf("expired trusted device %s is still there", id)
				}
			}

			// The plain form with the default grace period (24h) removes
			// nothing more; its text output names the database.
			out, err = runCLI(t, "cleanup", "--dsn", dsn)
			if err != nil || !strings.Contains(out, "0 flows, 0 sessions") || !strings.Contains(out, "0 trusted devices") || !strings.Contains(out, redactDSN(dsn)) {
				t.Fatalf("cleanup: %v\n%s", err, out)
			}
		})
	}
}

func TestCleanupAndMigrateRefuseWithoutDSN(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("LATCHKEY_DSN", "")
	for _, args := range [][]string{{"migrate", "sql"}, {"migrate", "sql", "status"}, {"cleanup"}, {"cleanup", "sql"}} {
		out, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "No database given") {
			t.Errorf("%v: err = %v, out %q; want No database given", args, err, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("a command without a DSN left %v in the working directory", entries)
	}
}

func TestMigratePrintsMaskedDatabase(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "m.db")
	out, err := runCLI(t, "migrate", "sql", "--dsn", dsn)
	if err != nil || !strings.Contains(out, "to "+dsn) {
		t.Fatalf("migrate: %v %q; want the database named", err, out)
	}
	if got := redactDSN("postgres://latchkey:s3cret@db:5432/lk"); got != "postgres://latchkey:***@db:5432/lk" {
		t.Fatalf("redactDSN = %q", got)
	}
}

func newUUID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// seedIdentity stores a bare identity and returns its id.
func seedIdentity(t testing.TB, db store.Store) string {
	t.Helper()
	now := time.Now().UTC()
	id := newUUID(t)
	if err := db.CreateIdentity(context.Background(), &core.Identity{ID: id, SchemaID: "default",
		Traits: []byte(`{"email":"` + id + `@example.com"}`), State: core.IdentityActive, StateChangedAt: now,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestMigrateKratosCommandLines: the command lines of Kratos' deployments
// migrate Latchkey's database as they are — migrate -c FILE sql -e --yes
// (the DSN from the environment), migrate sql DSN --yes — and -e without a
// DSN in the environment, or the database given twice, is refused.
func TestMigrateKratosCommandLines(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := filepath.Join(dir, "kratos.yml")
	if err := os.WriteFile(cfg, []byte("dsn: sqlite://"+filepath.Join(dir, "from-file.db")+
		"\nsecrets: {cookie: [a-kratos-cookie-secret-0123], cipher: [0123456789abcdef0123456789abcdef]}\ncourier: {smtp: {connection_uri: 'smtp://mail.example.com:25'}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LATCHKEY_DSN", "")
	os.Unsetenv("LATCHKEY_DSN") // restored by t.Setenv's cleanup
	envDB := "sqlite://" + filepath.Join(dir, "from-env.db")
	t.Setenv("DSN", envDB)
	out, err := runCLI(t, "migrate", "-c", cfg, "sql", "-e", "--yes")
	if err != nil || !strings.Contains(out, "to "+envDB) {
		t.Fatalf("migrate -c FILE sql -e --yes: %v %q; want %s migrated", err, out, envDB)
	}
	argDB := "sqlite://" + filepath.Join(dir, "from-arg.db")
	if out, err := runCLI(t, "migrate", "sql", argDB, "--yes"); err != nil || !strings.Contains(out, "to "+argDB) {
		t.Fatalf("migrate sql DSN --yes: %v %q", err, out)
	}
	// An empty DSN (as a compose file's DSN=) does not blank the file's.
	t.Setenv("DSN", "")
	if out, err := runCLI(t, "migrate", "sql", "-c", cfg); err != nil || !strings.Contains(out, "from-file.db") {
		t.Fatalf("migrate sql -c FILE: %v %q", err, out)
	}
	if _, err := runCLI(t, "migrate", "sql", argDB, "--dsn", envDB); err == nil || !strings.Contains(err.Error(), "one way") {
		t.Errorf("database given twice: %v", err)
	}
	if _, err := runCLI(t, "migrate", "sql", "-e"); err == nil || !strings.Contains(err.Error(), "neither is set") {
		t.Errorf("-e without DSN: %v", err)
	}
}

// TestServeSweeper: serve's background sweeper deletes expired flows every
// cleanup.interval once cleanup.keep_last has passed (a flow asked for
// afterwards is unknown, 404), and cleanup.enabled: false leaves them (410,
// expired).
func TestServeSweeper(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprint("enabled=", enabled), func(t *testing.T) {
			devEnv(t)
			t.Setenv("LATCHKEY_CLEANUP_ENABLED", fmt.Sprint(enabled))
			t.Setenv("LATCHKEY_CLEANUP_INTERVAL", "1s")
			t.Setenv("LATCHKEY_CLEANUP_KEEP_LAST", "0s")
			t.Setenv("LATCHKEY_SELFSERVICE_FLOWS_LOGIN_LIFESPAN", "1s")
			public, _, _ := startServe(t, serveOptions{dev: true, migrate: true})
			_, f := getJSON(t, public+"/self-service/login/api")
			id := fmt.Sprint(f["id"])
			want := http.StatusGone
			if enabled {
				want = http.StatusNotFound
			}
			code := 0
			if enabled {
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && code != want; {
					time.Sleep(300 * time.Millisecond)
					code, _ = getJSON(t, public+"/self-service/login/flows?id="+id)
				}
			} else {
				// Expired after 1 s; three sweeps would have run by 3.5 s.
				time.Sleep(3500 * time.Millisecond)
				code, _ = getJSON(t, public+"/self-service/login/flows?id="+id)
			}
			if code != want {
				t.Errorf("the expired flow: %d, want %d", code, want)
			}
		})
	}
}
