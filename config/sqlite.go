package config

// SQLite bounds the memory an SQLite database holds in the process (used
// only with a sqlite:// DSN). A file database has one writer connection and
// read_connections readers; each has its own page cache and its own copy of
// every prepared statement it runs.
type SQLite struct {
	CacheSize       ByteSize `koanf:"cache_size" doc:"Page cache of each SQLite connection (SQLite's cache_size); a _pragma=cache_size(…) in the DSN wins."`
	ReadConnections int      `koanf:"read_connections" doc:"Connections of the read-only pool; 0 means one per CPU, at least 2 (each reader has its own page cache and prepared statements)."`
	StatementCache  int      `koanf:"statement_cache" doc:"Prepared statements kept per pool (writer, readers), each prepared on every connection that runs it; 0 keeps none."`
}

func (s *SQLite) setDefaults(bool) {
	s.CacheSize = 512 * KB
	s.StatementCache = 128
}

func (s *SQLite) validate(_ *Config, p *Problems) {
	if s.CacheSize < 64*KB || s.CacheSize > 4*GB {
		p.add("sqlite.cache_size", "%s must be between 64KB and 4GB", s.CacheSize)
	}
	if s.ReadConnections < 0 || s.ReadConnections > 256 {
		p.add("sqlite.read_connections", "%d must be between 0 (one per CPU, at least 2) and 256", s.ReadConnections)
	}
	if s.StatementCache < 0 || s.StatementCache > 4096 {
		p.add("sqlite.statement_cache", "%d must be between 0 (no statement cache) and 4096", s.StatementCache)
	}
}
