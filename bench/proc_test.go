package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/store/storetest"
)

func TestReadProcSelf(t *testing.T) {
	t.Parallel()
	before, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until utime moves by a clock tick; on a loaded machine the
	// process may get little CPU per wall-clock second, so the bound is
	// generous and the loop ends as soon as the count moves.
	deadline := time.Now().Add(10 * time.Second)
	sum := sha256.Sum256(nil)
	after := before
	for time.Now().Before(deadline) && after.CPU <= before.CPU {
		for range 20000 {
			sum = sha256.Sum256(sum[:])
		}
		if after, err = ReadProc(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after.CPU <= before.CPU {
		t.Errorf("CPU time did not grow: %v then %v", before.CPU, after.CPU)
	}
	if after.RSS <= 0 || after.PeakRSS < after.RSS {
		t.Errorf("RSS %d, peak %d", after.RSS, after.PeakRSS)
	}
}

func TestReadProcMissing(t *testing.T) {
	t.Parallel()
	if _, err := ReadProc(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

func TestSharesExecutable(t *testing.T) {
	t.Parallel()
	same, err := SharesExecutable(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Error("this process does not share its own executable")
	}
	// A child running another file (the shell) does not share it.
	cmd := exec.Command("/bin/sh", "-c", "read x")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	if same, err = SharesExecutable(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	} else if same {
		t.Error("/bin/sh reported as this test's executable")
	}
	if _, err := SharesExecutable(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{"plain", "42 (latchkey) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0", 300, false},
		{"command with spaces and parens", "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 0 0", 10, false},
		{"truncated", "42 (x) S 1 2", 0, true},
		{"no command", "42 x S", 0, true},
		{"bad number", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 abc 3 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStatCPU([]byte(tt.stat))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseStatCPU = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   string
		rss, hwm int64
		wantErr  bool
	}{
		{"both", "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n", 1 << 20, 2 << 20, false},
		{"no VmRSS", "Name:\tx\nState:\tZ (zombie)\n", 0, 0, true},
		{"odd unit", "VmRSS:\t1 MB\n", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rss, hwm, err := parseStatusRSS([]byte(tt.status))
			if (err != nil) != tt.wantErr || rss != tt.rss || hwm != tt.hwm {
				t.Fatalf("parseStatusRSS = %d, %d, %v; want %d, %d, error %v", rss, hwm, err, tt.rss, tt.hwm, tt.wantErr)
			}
		})
	}
}

func TestClockTicks(t *testing.T) {
	t.Parallel()
	if n := clockTicks(); n < 1 || n > 100000 {
		t.Fatalf("clock ticks %d", n)
	}
}

func TestLoadAverage(t *testing.T) {
	t.Parallel()
	if l := LoadAverage(); l < 0 {
		t.Fatalf("load average %v", l)
	}
}

func TestParseStatTree(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stat    string
		ppid    int
		ticks   uint64
		wantErr bool
	}{
		{"own and children", "42 (postgres) S 7 42 42 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 8 0 100 0 0", 7, 350, false},
		{"negative child time counts as 0", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 7 3 -1 2 20 0 1 0 1 0 0", 1, 12, false},
		{"truncated", "42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12", 0, 0, true},
		{"bad ppid", "42 (x) S z 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ppid, ticks, err := parseStatTree([]byte(tt.stat))
			if (err != nil) != tt.wantErr || ppid != tt.ppid || ticks != tt.ticks {
				t.Fatalf("parseStatTree = %d, %d, %v; want %d, %d, error %v", ppid, ticks, err, tt.ppid, tt.ticks, tt.wantErr)
			}
		})
	}
}

func TestReadProcTreeCPU(t *testing.T) {
	t.Parallel()
	own, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Read after the process's own time, which it includes, so it can
	// only be larger.
	tree, err := ReadProcTreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if tree < own.CPU {
		t.Fatalf("tree CPU %v below the process's own %v read earlier", tree, own.CPU)
	}
	if _, err := ReadProcTreeCPU(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

func TestPostgresTitleNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cmdline, db string
		want              bool
	}{
		{"cluster name", "postgres: 15/main: postgres latchkey_bench 127.0.0.1(50292) idle\x00\x00", "latchkey_bench", true},
		{"no cluster name", "postgres: app latchkey_bench [local] SELECT", "latchkey_bench", true},
		{"other database", "postgres: 15/main: postgres test 127.0.0.1(50292) CREATE DATABASE", "latchkey_bench", false},
		{"auxiliary process", "postgres: 15/main: checkpointer ", "checkpointer", false},
		{"postmaster", "/usr/lib/postgresql/15/bin/postgres\x00-D\x00latchkey_bench", "latchkey_bench", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := postgresTitleNames([]byte(tt.cmdline), tt.db); got != tt.want {
				t.Fatalf("postgresTitleNames(%q, %q) = %v, want %v", tt.cmdline, tt.db, got, tt.want)
			}
		})
	}
}

// TestBackendsMeter replays the readings of a database whose backends come
// and go during the measured phase: each counts from its CPU at the start
// (0 when it started later) to its last reading, and a pid reused by a new
// backend is a new backend. Alive-at-both-ends arithmetic made this -53.
func TestBackendsMeter(t *testing.T) {
	t.Parallel()
	a, b, c, a2 := backendKey{11, 1}, backendKey{12, 5}, backendKey{13, 2}, backendKey{11, 9}
	readings := []map[backendKey]uint64{
		{a: 100, c: 10},       // start
		{a: 150, b: 5, c: 15}, // a sample: a about to exit, b new
		{b: 30, c: 20, a2: 7}, // at Stop: a gone, its pid reused
	}
	read := func() (map[backendKey]uint64, error) {
		if len(readings) == 0 {
			return nil, errors.New("read after Stop")
		}
		r := readings[0]
		readings = readings[1:]
		return r, nil
	}
	m, err := startBackendsMeter(read, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m.sample()
	got, err := m.Stop()
	if err != nil {
		t.Fatal(err)
	}
	// a 50 + b 30 + c 10 + a2 7
	if want := 97 * time.Second / time.Duration(clockTicks()); got != want {
		t.Fatalf("Stop = %v, want %v", got, want)
	}
}

func TestBackendsMeterPostmasterGone(t *testing.T) {
	t.Parallel()
	n := 0
	read := func() (map[backendKey]uint64, error) {
		if n++; n > 1 {
			return nil, errors.New("no such process")
		}
		return map[backendKey]uint64{{1, 1}: 1}, nil
	}
	m, err := startBackendsMeter(read, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Stop(); err == nil {
		t.Fatal("no error when the postmaster is gone")
	}
}

// TestPostgresBackendsCPU measures a real database's backends: one burns
// CPU and disconnects during the phase, another stays. The meter counts
// the one that exited (reading only the live backends at both ends did not).
func TestPostgresBackendsCPU(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	ctx := context.Background()
	connect := func() (*pgx.Conn, int) {
		t.Helper()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if err := c.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		return c, pid
	}
	stay, stayPID := connect()
	defer stay.Close(ctx)
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", stayPID))
	if err != nil {
		t.Skipf("PostgreSQL backend %d is not a local process: %v", stayPID, err)
	}
	postmaster, _, _, err := parseStatBackend(stat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", postmaster)); err != nil {
		t.Skipf("postmaster %d not readable: %v", postmaster, err)
	}

	m, err := startBackendsMeter(postgresBackends(postmaster, name), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	burn, burnPID := connect()
	if _, err := burn.Exec(ctx, `SELECT count(*) FROM generate_series(1, 3000000)`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a sample after the query
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", burnPID))
	if err != nil {
		t.Fatal(err)
	}
	_, _, burnt, err := parseStatBackend(b)
	if err != nil {
		t.Fatal(err)
	}
	burn.Close(ctx)
	time.Sleep(50 * time.Millisecond)
	if _, err := stay.Exec(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	got, err := m.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(burnt) * time.Second / time.Duration(clockTicks()); burnt == 0 || got < want {
		t.Fatalf("database CPU %v, want at least the %v (%d ticks) of the backend that exited", got, want, burnt)
	}
}
