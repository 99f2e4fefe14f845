package sqlite

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestOpenWithMemoryBounds: the page cache pragma reaches every connection
// the store opens (a DSN pragma wins), and the statement cache follows
// Options.
func TestOpenWithMemoryBounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, query string
		o           Options
		want        string
	}{
		{"default", "", Options{}, "cache_size(-512)"},
		{"configured", "", Options{CacheSize: 256 << 10}, "cache_size(-256)"},
		{"dsn wins", "?_pragma=cache_size(-64)", Options{CacheSize: 256 << 10}, "cache_size(-64)"},
	} {
		s, err := OpenWith(context.Background(), "sqlite://"+filepath.Join(dir, tc.name+".db")+tc.query, tc.o)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		s.Close()
		path, params, _ := ParseDSN("sqlite://" + filepath.Join(dir, tc.name+".db") + tc.query)
		common := commonParams
		if !hasPragma(params, "cache_size") {
			o := tc.o
			if o.CacheSize <= 0 {
				o.CacheSize = DefaultCacheSize
			}
			common = append(common[:len(common):len(common)], "_pragma=cache_size(-"+strconv.FormatInt(o.CacheSize/1024, 10)+")")
		}
		dsn := driverDSN(path, params, common, readParams)
		if q, _ := url.ParseQuery(dsn[strings.Index(dsn, "?")+1:]); strings.Count(strings.Join(q["_pragma"], " "), "cache_size") != 1 {
			t.Errorf("%s: driver DSN %s, want one cache_size pragma", tc.name, dsn)
		}
		// modernc applies the pragma on connect.
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(`PRAGMA cache_size`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if "cache_size("+strconv.Itoa(n)+")" != tc.want {
			t.Errorf("%s: PRAGMA cache_size = %d, want %s", tc.name, n, tc.want)
		}
	}
	if hasPragma(url.Values{"_pragma": {"busy_timeout(1)"}}, "cache_size") {
		t.Error("hasPragma matched another pragma")
	}
}

// TestReadConnections: the read-only pool has one connection per CPU, at
// least 2, unless Options sets its size (each reader holds its own page
// cache, schema and prepared statements). Not parallel: it sets GOMAXPROCS.
func TestReadConnections(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		procs int
		o     Options
		want  int
	}{
		{"one CPU", 1, Options{}, 2},
		{"two CPUs", 2, Options{}, 2},
		{"six CPUs", 6, Options{}, 6},
		{"configured", 2, Options{ReadConnections: 3}, 3},
	} {
		runtime.GOMAXPROCS(tc.procs)
		s, err := OpenWith(context.Background(), "sqlite://"+filepath.Join(dir, tc.name+".db"), tc.o)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		read, write := s.Handles()
		if n := read.Stats().MaxOpenConnections; n != tc.want {
			t.Errorf("%s: read pool of %d connections, want %d", tc.name, n, tc.want)
		}
		if n := write.Stats().MaxOpenConnections; n != 1 {
			t.Errorf("%s: write pool of %d connections, want 1", tc.name, n)
		}
		s.Close()
	}
}
