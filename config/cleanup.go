package config

import "time"

// Cleanup configures the removal of records nobody needs any more: by the
// sweeper inside serve and by `latchkey cleanup`.
type Cleanup struct {
	Enabled   bool          `koanf:"enabled" doc:"Run the clean-up sweeper inside serve; false leaves it to the latchkey cleanup command (from cron, for example)."`
	Interval  time.Duration `koanf:"interval" doc:"How often serve's sweeper runs."`
	BatchSize int           `koanf:"batch_size" doc:"Rows deleted per statement, so no sweep holds locks for long."`
	KeepLast  time.Duration `koanf:"keep_last" doc:"Grace period: expired flows and sessions are kept this long after their expiry (Kratos' cleanup --keep-last)."`
	Retention Retention     `koanf:"retention"`
}

// Retention says how long finished records are kept.
type Retention struct {
	Messages  time.Duration `koanf:"messages" doc:"How long sent or abandoned courier messages and web-hook deliveries are kept."`
	AuditLogs time.Duration `koanf:"audit_logs" doc:"How long audit log entries are kept."`
}

func (c *Cleanup) setDefaults(bool) {
	c.Enabled = true
	c.Interval = 10 * time.Minute
	c.BatchSize = 1000
	c.KeepLast = 24 * time.Hour
	c.Retention = Retention{Messages: 7 * 24 * time.Hour, AuditLogs: 90 * 24 * time.Hour}
}

func (c *Cleanup) validate(_ *Config, p *Problems) {
	if c.Enabled && c.Interval < time.Second {
		p.add("cleanup.interval", "%s is too short; use at least 1s (or cleanup.enabled: false to switch the sweeper off)", c.Interval)
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		p.add("cleanup.batch_size", "%d is out of range; use 1 to 100000", c.BatchSize)
	}
	if c.KeepLast < 0 {
		p.add("cleanup.keep_last", "%s is negative; use 0 or a positive duration", c.KeepLast)
	}
	if c.Retention.Messages < 0 {
		p.add("cleanup.retention.messages", "%s is negative; use 0 or a positive duration", c.Retention.Messages)
	}
	if c.Retention.AuditLogs < 0 {
		p.add("cleanup.retention.audit_logs", "%s is negative; use 0 or a positive duration", c.Retention.AuditLogs)
	}
}
