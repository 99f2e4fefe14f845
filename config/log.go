package config

// Log configures logging.
type Log struct {
	Level  string `koanf:"level" doc:"Lowest level logged: debug, info, warn or error (Kratos' trace, warning, fatal and panic are mapped to these)."`
	Format string `koanf:"format" doc:"Log line format: text or json."`
}

func (l *Log) setDefaults(bool) {
	l.Level = "info"
	l.Format = "text"
}

func (l *Log) resolve(*Config, *[]Warning) {
	switch l.Level {
	case "trace":
		l.Level = "debug"
	case "warning":
		l.Level = "warn"
	case "fatal", "panic":
		l.Level = "error"
	}
}

func (l *Log) validate(_ *Config, p *Problems) {
	if !oneOf(l.Level, "debug", "info", "warn", "error") {
		p.add("log.level", "%q is not one of debug, info, warn, error", l.Level)
	}
	if !oneOf(l.Format, "text", "json") {
		p.add("log.format", "%q is not one of text, json", l.Format)
	}
}
