package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// exportCredentialTypes are asked for with include_credential when
// --include-credentials is given: everything `identities import` (and
// Kratos' PATCH /admin/identities) can take back.
var exportCredentialTypes = []string{"password", "oidc", "totp", "lookup_secret", "webauthn", "passkey"}

// exportedIdentity is a Kratos identity as the admin API shows it, read
// for export.
type exportedIdentity struct {
	ID                  string            `json:"id"`
	SchemaID            string            `json:"schema_id"`
	State               string            `json:"state,omitempty"`
	Traits              json.RawMessage   `json:"traits"`
	MetadataPublic      json.RawMessage   `json:"metadata_public,omitempty"`
	MetadataAdmin       json.RawMessage   `json:"metadata_admin,omitempty"`
	ExternalID          string            `json:"external_id,omitempty"`
	OrganizationID      *string           `json:"organization_id,omitempty"`
	VerifiableAddresses []json.RawMessage `json:"verifiable_addresses,omitempty"`
	RecoveryAddresses   []json.RawMessage `json:"recovery_addresses,omitempty"`
	Credentials         map[string]struct {
		Config json.RawMessage `json:"config"`
	} `json:"credentials,omitempty"`
}

// importBody turns an exported identity into Kratos' createIdentityBody,
// which `identities import` and PATCH /admin/identities accept, with the
// identity's id: Latchkey creates the identity under it (an extension;
// Ory Kratos refuses the field, so `identities import --drop-ids` leaves it
// out for a Kratos target). Credentials are carried only when their config
// was included (withCreds).
func (e exportedIdentity) importBody(withCreds bool) (json.RawMessage, error) {
	body := map[string]any{"schema_id": e.SchemaID, "traits": e.Traits}
	if e.ID != "" {
		body["id"] = e.ID
	}
	if e.State != "" {
		body["state"] = e.State
	}
	if isJSONValue(e.MetadataPublic) {
		body["metadata_public"] = e.MetadataPublic
	}
	if isJSONValue(e.MetadataAdmin) {
		body["metadata_admin"] = e.MetadataAdmin
	}
	if e.ExternalID != "" {
		body["external_id"] = e.ExternalID
	}
	if e.OrganizationID != nil && *e.OrganizationID != "" {
		body["organization_id"] = *e.OrganizationID
	}
	if len(e.VerifiableAddresses) > 0 {
		body["verifiable_addresses"] = e.VerifiableAddresses
	}
	if len(e.RecoveryAddresses) > 0 {
		body["recovery_addresses"] = e.RecoveryAddresses
	}
	if withCreds {
		creds := map[string]any{}
		for t, c := range e.Credentials {
			if !isJSONValue(c.Config) || string(c.Config) == "{}" {
				continue
			}
			switch t {
			case "password":
				var pc struct {
					HashedPassword string `json:"hashed_password"`
				}
				if json.Unmarshal(c.Config, &pc) == nil && pc.HashedPassword != "" {
					creds[t] = map[string]any{"config": map[string]string{"hashed_password": pc.HashedPassword}}
				}
			case "oidc", "saml":
				// The links, without the tokens (import takes provider
				// and subject).
				var oc struct {
					Providers []struct {
						Provider     string  `json:"provider"`
						Subject      string  `json:"subject"`
						Organization *string `json:"organization,omitempty"`
						UseAutoLink  bool    `json:"use_auto_link,omitempty"`
					} `json:"providers"`
				}
				if json.Unmarshal(c.Config, &oc) == nil && len(oc.Providers) > 0 {
					creds[t] = map[string]any{"config": oc}
				}
			case "totp", "lookup_secret", "webauthn", "passkey":
				creds[t] = map[string]any{"config": c.Config}
			}
		}
		if len(creds) > 0 {
			body["credentials"] = creds
		}
	}
	return json.Marshal(body)
}

func isJSONValue(b json.RawMessage) bool { return len(b) > 0 && string(b) != "null" }

func newIdentitiesExportCmd(f *identityFlags) *cobra.Command {
	var (
		output    string
		format    string
		pageSize  int
		withCreds bool
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export identities as records `identities import` takes back",
		Long: `Export every identity through the admin API (GET /admin/identities, page by
page along the Link header) as Kratos createIdentityBody records: id,
schema, traits, state, metadata, external id, organization and addresses.
Latchkey's import keeps the id (an extension: apps that store identity ids
keep working after a migration); Ory Kratos refuses an id in its import, so
import into Kratos with --drop-ids. With
--include-credentials each identity is read with include_credential (password
hashes, OIDC links, TOTP, lookup secrets, WebAuthn and passkeys), so users keep
logging in with their old passwords after an import. Works against Ory Kratos
too: Kratos → file → Latchkey is the migration path.

The output (NDJSON, one record a line, or --format json for one array) goes
to --output or standard output; a progress line is drawn on a terminal, and
the summary (--json: as JSON) goes to standard error.`,
		Example: `  latchkey identities export --include-credentials -o identities.ndjson
  latchkey identities import identities.ndjson --endpoint http://new-host:4434`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "ndjson" && format != "json" {
				return exitError{code: 2, msg: fmt.Sprintf("Error: --format %q is not ndjson or json.", format)}
			}
			if pageSize < 1 || pageSize > 500 {
				return exitError{code: 2, msg: "Error: --page-size must be between 1 and 500."}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			var out io.Writer = cmd.OutOrStdout()
			var file *os.File
			if output != "" && output != "-" {
				if file, err = os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
					return exitError{code: 1, msg: fmt.Sprintf("Error: cannot write %s: %v", output, err)}
				}
				defer file.Close()
				out = file
			}
			w := bufio.NewWriter(out)
			start := time.Now()
			var bar *progressBar
			if isTerminal(cmd.ErrOrStderr()) {
				bar = &progressBar{w: cmd.ErrOrStderr(), total: -1, start: start}
			}
			q := url.Values{"page_size": {strconv.Itoa(pageSize)}}
			next := "/admin/identities?" + q.Encode()
			n := 0
			if format == "json" {
				w.WriteString("[")
			}
			for next != "" {
				var page []exportedIdentity
				h, err := c.do(cmd.Context(), http.MethodGet, next, nil, &page)
				if err != nil {
					return exitError{code: 1, msg: fmt.Sprintf("Error: export stopped after %d identities: %v", n, err)}
				}
				if bar != nil && bar.total < 0 {
					if total, err := strconv.Atoi(h.Get("X-Total-Count")); err == nil {
						bar.total = total
					}
				}
				for _, id := range page {
					if withCreds {
						// include_credential on the single identity, which
						// Kratos honours too (its list does not).
						iq := url.Values{"include_credential": exportCredentialTypes}
						if _, err := c.do(cmd.Context(), http.MethodGet, "/admin/identities/"+url.PathEscape(id.ID)+"?"+iq.Encode(), nil, &id); err != nil {
							return exitError{code: 1, msg: fmt.Sprintf("Error: export stopped after %d identities: reading %s: %v", n, id.ID, err)}
						}
					}
					rec, err := id.importBody(withCreds)
					if err != nil {
						return err
					}
					if format == "json" && n > 0 {
						w.WriteString(",")
					}
					if format == "json" {
						w.WriteString("\n  ")
					}
					w.Write(rec)
					if format == "ndjson" {
						w.WriteString("\n")
					}
					n++
					if bar != nil {
						bar.set(n)
					}
				}
				next = nextLink(h)
				if len(page) == 0 {
					break
				}
			}
			if format == "json" {
				if n > 0 {
					w.WriteString("\n")
				}
				w.WriteString("]\n")
			}
			if err := w.Flush(); err != nil {
				return exitError{code: 1, msg: fmt.Sprintf("Error: writing the export: %v", err)}
			}
			if file != nil {
				if err := file.Close(); err != nil {
					return exitError{code: 1, msg: fmt.Sprintf("Error: cannot write %s: %v", output, err)}
				}
			}
			if bar != nil {
				bar.finish()
			}
			dest := output
			if dest == "" || dest == "-" {
				dest = "standard output"
			}
			if f.asJSON {
				return json.NewEncoder(cmd.ErrOrStderr()).Encode(map[string]any{"exported": n, "output": dest,
					"credentials": withCreds, "duration_seconds": time.Since(start).Seconds()})
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Exported %d identities to %s in %s.\n", n, dest, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	cmd.Flags().StringVar(&format, "format", "ndjson", "ndjson (one record a line) or json (one array)")
	cmd.Flags().IntVar(&pageSize, "page-size", 250, "identities per list request (max 500)")
	cmd.Flags().BoolVar(&withCreds, "include-credentials", false, "export credentials too: password hashes, OIDC links, TOTP, lookup secrets, WebAuthn and passkeys")
	return cmd
}
