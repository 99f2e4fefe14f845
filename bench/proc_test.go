package bench

import (
	"crypto/sha256"
	"os"
	"testing"
	"time"
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
