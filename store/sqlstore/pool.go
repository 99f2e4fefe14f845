package sqlstore

import (
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"time"
)

// Pool sizes the database/sql connection pool of a server database
// (PostgreSQL, MySQL). Zero durations mean no limit.
type Pool struct {
	MaxOpen     int           // open connections at most (max_conns)
	MaxIdle     int           // idle connections kept (max_idle_conns)
	MaxLifetime time.Duration // a connection is closed after this long (max_conn_lifetime)
	MaxIdleTime time.Duration // an idle connection is closed after this long (max_conn_idle_time)
}

// DefaultPool is the pool without DSN parameters: 4 connections per CPU
// (at least 4), all of them kept when idle, idle ones closed after 5
// minutes, every one renewed after 5 minutes too (below MySQL's usual
// wait_timeout; it also spreads load after a failover). Each replica holds
// no more than that, so N replicas stay within a server's connection
// limit. Fewer idle than open connections made database/sql close every
// connection beyond them whenever no request was waiting at that instant
// and open a new one (on PostgreSQL a new backend process, its
// authentication and its prepared statements) the next moment: 16
// clients of latchkey bench (admin-create, then me, 3000 requests each)
// were served by 204 backends in turn, by 8 with all kept. An idle server
// still lets them go after MaxIdleTime.
func DefaultPool() Pool {
	open := max(4, 4*runtime.GOMAXPROCS(0))
	return Pool{MaxOpen: open, MaxIdle: open, MaxLifetime: 5 * time.Minute, MaxIdleTime: 5 * time.Minute}
}

// The DSN query parameters Kratos reads for its pool (ory/x sqlcon). They
// configure database/sql and are never sent to the server.
const (
	ParamMaxConns        = "max_conns"
	ParamMaxIdleConns    = "max_idle_conns"
	ParamMaxConnLifetime = "max_conn_lifetime"
	ParamMaxConnIdleTime = "max_conn_idle_time"
)

// TakePool removes Kratos' pool parameters from q and returns DefaultPool
// with the values they set (max_idle_conns follows max_conns unless it is
// set). An error names the parameter and says what it
// takes: max_conns a whole number ≥ 1, max_idle_conns a whole number ≥ 0
// and not above max_conns, the two durations Go durations ≥ 0 (1h, 30s).
func TakePool(q url.Values) (Pool, error) {
	p := DefaultPool()
	take := func(name string) (string, bool) {
		v, ok := q[name]
		delete(q, name)
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[len(v)-1], true
	}
	idleSet := false
	if v, ok := take(ParamMaxConns); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return Pool{}, fmt.Errorf("%s=%q must be a whole number of at least 1", ParamMaxConns, v)
		}
		p.MaxOpen = n
	}
	if v, ok := take(ParamMaxIdleConns); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Pool{}, fmt.Errorf("%s=%q must be a whole number of at least 0", ParamMaxIdleConns, v)
		}
		if n > p.MaxOpen {
			return Pool{}, fmt.Errorf("%s=%d is more than %s=%d; idle connections count against the open ones", ParamMaxIdleConns, n, ParamMaxConns, p.MaxOpen)
		}
		p.MaxIdle, idleSet = n, true
	}
	if !idleSet {
		p.MaxIdle = p.MaxOpen // all kept, as DefaultPool keeps them
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{ParamMaxConnLifetime, &p.MaxLifetime}, {ParamMaxConnIdleTime, &p.MaxIdleTime}} {
		if v, ok := take(d.name); ok {
			t, err := time.ParseDuration(v)
			if err != nil || t < 0 {
				return Pool{}, fmt.Errorf("%s=%q must be a duration of at least 0, like 1h or 30s (0 for no limit)", d.name, v)
			}
			*d.to = t
		}
	}
	return p, nil
}
