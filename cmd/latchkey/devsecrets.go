package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/store/sqlite"
)

// devSecrets is the file --dev keeps its generated secrets in, so that a
// restart can still decrypt the signing keys and verify cookies.
type devSecrets struct {
	Default []string `json:"default"`
	Cipher  []string `json:"cipher"`
}

// devSecretsPath puts the secrets beside the SQLite database, nowhere ("")
// for an in-memory database (whose keys die with the process anyway), or
// in the working directory for other databases.
func devSecretsPath(dsn string) string {
	const name = "latchkey.dev-secrets.json"
	if dsn == "memory" {
		return ""
	}
	if path, _, err := sqlite.ParseDSN(dsn); err == nil && path == ":memory:" {
		return ""
	} else if err == nil && path != "" {
		return filepath.Join(filepath.Dir(path), name)
	}
	return name
}

// loadDevSecrets fills the empty secret lists of a --dev config from the
// secrets file, generating and saving it (mode 0600) when it does not exist.
// It reports the file's path and whether it generated new secrets.
func loadDevSecrets(cfg *config.Config) (string, bool, error) {
	path := devSecretsPath(cfg.DSN)
	if path == "" {
		_, err := cfg.FillDevSecrets(nil)
		return "(kept in memory: the database is in memory too)", true, err
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var s devSecrets
		if err := json.Unmarshal(b, &s); err != nil {
			return path, false, fmt.Errorf("the dev secrets file %s is corrupt (%v); delete it to generate new secrets (sessions and keys made with the old ones stop working)", path, err)
		}
		if len(cfg.Secrets.Default) == 0 {
			cfg.Secrets.Default = s.Default
		}
		if len(cfg.Secrets.Cipher) == 0 {
			cfg.Secrets.Cipher = s.Cipher
		}
		if cfg.NeedsDevSecrets() {
			return path, false, fmt.Errorf("the dev secrets file %s lacks secrets; delete it to generate new ones", path)
		}
		return path, false, nil
	case errors.Is(err, fs.ErrNotExist):
		if _, err := cfg.FillDevSecrets(nil); err != nil {
			return path, false, err
		}
		b, err := json.MarshalIndent(devSecrets{Default: cfg.Secrets.Default, Cipher: cfg.Secrets.Cipher}, "", "  ")
		if err != nil {
			return path, false, err
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
			return path, false, fmt.Errorf("save generated dev secrets: %w", err)
		}
		return path, true, nil
	default:
		return path, false, fmt.Errorf("read dev secrets: %w", err)
	}
}
