package sqlstore

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTakePool(t *testing.T) {
	t.Parallel()
	def := DefaultPool()
	if def.MaxOpen < 4 || def.MaxIdle != def.MaxOpen || def.MaxIdleTime <= 0 || def.MaxLifetime <= 0 {
		t.Fatalf("default pool %+v", def)
	}
	for _, tc := range []struct {
		query string
		want  Pool
		err   string
	}{
		{"", def, ""},
		{"sslmode=disable", def, ""},
		{"max_conns=7&max_idle_conns=3&max_conn_lifetime=1h&max_conn_idle_time=30s", Pool{7, 3, time.Hour, 30 * time.Second}, ""},
		{"max_conns=1", Pool{1, 1, def.MaxLifetime, def.MaxIdleTime}, ""},
		{"max_conns=100", Pool{100, 100, def.MaxLifetime, def.MaxIdleTime}, ""},
		{"max_idle_conns=0&max_conn_lifetime=0", Pool{def.MaxOpen, 0, 0, def.MaxIdleTime}, ""},
		{"max_conns=0", Pool{}, "max_conns"},
		{"max_conns=1.5", Pool{}, "max_conns"},
		{"max_idle_conns=x", Pool{}, "max_idle_conns"},
		{"max_conns=2&max_idle_conns=3", Pool{}, "max_idle_conns=3 is more than max_conns=2"},
		{"max_conn_lifetime=1", Pool{}, "max_conn_lifetime"},
		{"max_conn_idle_time=-1s", Pool{}, "max_conn_idle_time"},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := TakePool(q)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want an error naming %s", tc.query, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%q: %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
		if err == nil {
			for _, p := range []string{ParamMaxConns, ParamMaxIdleConns, ParamMaxConnLifetime, ParamMaxConnIdleTime} {
				if q.Has(p) {
					t.Errorf("%q: %s left in the DSN", tc.query, p)
				}
			}
		}
	}
}
