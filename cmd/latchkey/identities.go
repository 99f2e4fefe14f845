package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// identitiesClient talks to the Kratos admin API of a running Latchkey.
type identitiesClient struct {
	endpoint string
	apiKey   string
	http     *http.Client
}

// identityFlags are the flags every identities subcommand shares.
type identityFlags struct {
	endpoint string
	apiKey   string
	asJSON   bool
	timeout  time.Duration
}

func (f *identityFlags) client() (*identitiesClient, error) {
	u, err := url.Parse(f.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--endpoint %q is not an http(s) URL such as http://127.0.0.1:4434", f.endpoint)
	}
	return &identitiesClient{endpoint: strings.TrimRight(f.endpoint, "/"), apiKey: f.apiKey,
		http: &http.Client{Timeout: f.timeout}}, nil
}

// apiError is a Kratos error envelope returned by the server.
type apiError struct {
	Status int
	Reason string
	Msg    string
}

func (e *apiError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

func (c *identitiesClient) do(ctx context.Context, method, path string, body []byte, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.endpoint+path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		var env struct {
			Error struct {
				Reason  string `json:"reason"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &env)
		msg := env.Error.Message
		if msg == "" {
			msg = strings.TrimSpace(string(raw))
		}
		return resp.Header, &apiError{Status: resp.StatusCode, Reason: env.Error.Reason, Msg: msg}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: the response is not the expected JSON: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

func newIdentitiesCmd() *cobra.Command {
	f := &identityFlags{}
	cmd := &cobra.Command{
		Use:           "identities",
		Aliases:       []string{"identity", "id"},
		Short:         "Import, export, list, show and delete identities through the admin API",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `Manage identities through the Kratos-compatible admin API of a running
Latchkey (the admin listener, by default http://127.0.0.1:4434). These commands
work against Ory Kratos too.

When the admin listener requires an API key (serve.admin.api_key), pass it with
--api-key or the LATCHKEY_SERVE_ADMIN_API_KEY environment variable.`,
	}
	defKey := os.Getenv("LATCHKEY_SERVE_ADMIN_API_KEY")
	cmd.PersistentFlags().StringVarP(&f.endpoint, "endpoint", "e", "http://127.0.0.1:4434", "admin API base URL")
	cmd.PersistentFlags().StringVar(&f.apiKey, "api-key", defKey, "admin API key, sent as Authorization: Bearer (default $LATCHKEY_SERVE_ADMIN_API_KEY)")
	cmd.PersistentFlags().BoolVar(&f.asJSON, "json", false, "print JSON instead of text")
	cmd.PersistentFlags().DurationVar(&f.timeout, "timeout", 5*time.Minute, "timeout of each HTTP request")
	cmd.AddCommand(newIdentitiesImportCmd(f), newIdentitiesExportCmd(f), newIdentitiesListCmd(f), newIdentitiesGetCmd(f), newIdentitiesDeleteCmd(f))
	return cmd
}

func newIdentitiesGetCmd(f *identityFlags) *cobra.Command {
	var include []string
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show one identity as JSON",
		Long: `Show one identity (GET /admin/identities/{id}) as indented JSON. With
--include-credential TYPE the credential's configuration is included as Kratos
declassifies it (for password: the hash).`,
		Example: `  latchkey identities get 9f1c…
  latchkey identities get 9f1c… --include-credential password`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for _, t := range include {
				q.Add("include_credential", t)
			}
			path := "/admin/identities/" + url.PathEscape(args[0])
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var raw json.RawMessage
			if _, err := c.do(cmd.Context(), http.MethodGet, path, nil, &raw); err != nil {
				return err
			}
			var out bytes.Buffer
			if err := json.Indent(&out, raw, "", "  "); err != nil {
				return err
			}
			out.WriteByte('\n')
			_, err = cmd.OutOrStdout().Write(out.Bytes())
			return err
		},
	}
	cmd.Flags().StringSliceVar(&include, "include-credential", nil, "credential type whose config to include (repeatable)")
	return cmd
}

func newIdentitiesDeleteCmd(f *identityFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID…",
		Short: "Delete identities with their credentials and sessions",
		Long: `Delete one or more identities (DELETE /admin/identities/{id}), with their
addresses, credentials and sessions. Every id is tried; the command fails if
any deletion failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			type result struct {
				ID    string `json:"id"`
				Error string `json:"error,omitempty"`
			}
			var results []result
			failed := 0
			for _, id := range args {
				_, err := c.do(cmd.Context(), http.MethodDelete, "/admin/identities/"+url.PathEscape(id), nil, nil)
				r := result{ID: id}
				if err != nil {
					r.Error = err.Error()
					failed++
				}
				results = append(results, r)
				if !f.asJSON {
					if err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", id, err)
					} else {
						fmt.Fprintf(cmd.OutOrStdout(), "Deleted %s\n", id)
					}
				}
			}
			if f.asJSON {
				if err := writeIndentedJSON(cmd.OutOrStdout(), results); err != nil {
					return err
				}
			}
			if failed > 0 {
				return exitError{code: 1, msg: fmt.Sprintf("%d of %d deletions failed", failed, len(args))}
			}
			return nil
		},
	}
}

func newIdentitiesListCmd(f *identityFlags) *cobra.Command {
	var (
		pageSize   int
		limit      int
		identifier string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List identities",
		Long: `List identities (GET /admin/identities), following the Link header's next
page until --limit identities were printed (0: all). Text output is a table of
id, state, schema, identifiers and creation time; --json prints one JSON array.`,
		Example: `  latchkey identities list
  latchkey identities list --identifier alice@example.com --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			q := url.Values{"page_size": {fmt.Sprint(pageSize)}}
			if identifier != "" {
				q.Set("credentials_identifier", identifier)
			}
			next := "/admin/identities?" + q.Encode()
			var all []json.RawMessage
			for next != "" && (limit == 0 || len(all) < limit) {
				var page []json.RawMessage
				h, err := c.do(cmd.Context(), http.MethodGet, next, nil, &page)
				if err != nil {
					return err
				}
				all = append(all, page...)
				next = nextLink(h)
				if len(page) == 0 {
					break
				}
			}
			if limit > 0 && len(all) > limit {
				all = all[:limit]
			}
			if f.asJSON {
				if all == nil {
					all = []json.RawMessage{}
				}
				return writeIndentedJSON(cmd.OutOrStdout(), all)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tSCHEMA\tIDENTIFIERS\tCREATED")
			for _, raw := range all {
				var i struct {
					ID          string `json:"id"`
					State       string `json:"state"`
					SchemaID    string `json:"schema_id"`
					CreatedAt   string `json:"created_at"`
					Credentials map[string]struct {
						Identifiers []string `json:"identifiers"`
					} `json:"credentials"`
				}
				if err := json.Unmarshal(raw, &i); err != nil {
					return err
				}
				seen := map[string]bool{}
				var ids []string
				for _, t := range []string{"password", "code", "oidc", "webauthn", "passkey", "saml"} {
					for _, v := range i.Credentials[t].Identifiers {
						if !seen[v] {
							seen[v] = true
							ids = append(ids, v)
						}
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", i.ID, i.State, i.SchemaID, strings.Join(ids, ","), i.CreatedAt)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&pageSize, "page-size", 250, "identities per request (max 500)")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many identities (0: all)")
	cmd.Flags().StringVar(&identifier, "identifier", "", "only the identity with this login identifier")
	return cmd
}

// nextLink returns the rel="next" target of a Link header, or "".
func nextLink(h http.Header) string {
	for _, v := range append(h.Values("Link"), h.Values("link")...) {
		for _, part := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			if ok && strings.Contains(params, `rel="next"`) {
				return strings.Trim(strings.TrimSpace(target), "<>")
			}
		}
	}
	return ""
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// importRecord is one identity read from an import file.
type importRecord struct {
	source    string // file:index, 1-based
	body      json.RawMessage
	cleartext bool
}

// importFailure is a record the server refused.
type importFailure struct {
	Source string `json:"source"`
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason"`
}

// importSummary is what import reports at the end.
type importSummary struct {
	Total    int             `json:"total"`
	Created  int             `json:"created"`
	Failed   int             `json:"failed"`
	Seconds  float64         `json:"duration_seconds"`
	Failures []importFailure `json:"failures"`
}

const (
	importMaxBatch     = 1000 // Kratos' limit per PATCH /admin/identities
	importMaxCleartext = 200  // Kratos' limit of cleartext passwords per batch
)

func newIdentitiesImportCmd(f *identityFlags) *cobra.Command {
	var (
		batchSize int
		dropIDs   bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE…|-",
		Short: "Import identities from JSON or NDJSON files",
		Long: `Import identities through the batch endpoint (PATCH /admin/identities).

Each FILE (or - for standard input) holds createIdentityBody objects, Kratos'
import format, either as one JSON array or as newline-delimited JSON (one
object per line). Passwords may be given in cleartext
(credentials.password.config.password, hashed on import) or as a hash in any
supported format (credentials.password.config.hashed_password: bcrypt,
argon2, pbkdf2, scrypt, firescrypt, SSHA, crypt(3), …).

A record's "id" (as written by identities export) creates the identity under
that id, so references to it keep working: it must be a UUID no identity has
(the record fails with 400 or 409 otherwise). This is a Latchkey extension:
Ory Kratos refuses the field, so give --drop-ids when importing into Kratos
(new ids are then made).

Records are sent in batches of up to --batch-size (at most 1000, and at most
200 with cleartext passwords, Kratos' limits). A record the server refuses is
reported with its file and position and the import goes on; the command exits
with status 2 when any record failed. When standard output is a terminal a
progress bar shows the rate and the time left.`,
		Example: `  latchkey identities import users.json
  cat users.ndjson | latchkey identities import - --json
  latchkey identities import part-*.json --endpoint https://admin.internal:4434 --api-key "$KEY"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if batchSize < 1 || batchSize > importMaxBatch {
				return fmt.Errorf("--batch-size must be between 1 and %d", importMaxBatch)
			}
			total := -1
			if !containsStdin(args) {
				if total, err = countRecords(args); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			var bar *progressBar
			if isTerminal(out) && !f.asJSON {
				bar = &progressBar{w: out, total: total, start: time.Now()}
			}
			im := &importer{client: c, batchSize: batchSize, bar: bar, errOut: cmd.ErrOrStderr(), quiet: f.asJSON, dropIDs: dropIDs}
			start := time.Now()
			runErr := im.run(cmd.Context(), args, cmd.InOrStdin())
			if bar != nil {
				bar.finish()
			}
			im.summary.Seconds = time.Since(start).Seconds()
			if im.summary.Failures == nil {
				im.summary.Failures = []importFailure{}
			}
			if f.asJSON {
				if err := writeIndentedJSON(out, im.summary); err != nil {
					return err
				}
			} else {
				s := im.summary
				rate := 0.0
				if s.Seconds > 0 {
					rate = float64(s.Created) / s.Seconds
				}
				fmt.Fprintf(out, "Imported %d of %d identities (%d failed) in %.1fs (%.0f/s).\n", s.Created, s.Total, s.Failed, s.Seconds, rate)
			}
			if runErr != nil {
				return runErr
			}
			if im.summary.Failed > 0 {
				return exitError{code: 2}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&batchSize, "batch-size", importMaxBatch, "identities per request (max 1000)")
	cmd.Flags().BoolVar(&dropIDs, "drop-ids", false, "leave out each record's \"id\" (for Ory Kratos, which refuses it): the identities get new ids")
	return cmd
}

func containsStdin(args []string) bool {
	for _, a := range args {
		if a == "-" {
			return true
		}
	}
	return false
}

// countRecords counts the records of the files (for the progress bar).
func countRecords(files []string) (int, error) {
	n := 0
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			return 0, err
		}
		err = readRecords(fh, name, func(importRecord) error { n++; return nil })
		fh.Close()
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// readRecords streams the records of one input: a JSON array or a sequence
// of JSON values (NDJSON).
func readRecords(r io.Reader, name string, fn func(importRecord) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dec := json.NewDecoder(br)
	array := first == '['
	if array {
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for n := 1; ; n++ {
		if array && !dec.More() {
			if _, err := dec.Token(); err != nil {
				return fmt.Errorf("%s: the JSON array is not closed: %w", name, err)
			}
			return nil
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if !array && err == io.EOF {
				return nil
			}
			return fmt.Errorf("%s: record %d is not valid JSON: %w", name, n, err)
		}
		if err := fn(importRecord{source: fmt.Sprintf("%s:%d", name, n), body: raw, cleartext: hasCleartextPassword(raw)}); err != nil {
			return err
		}
	}
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case 0xEF: // UTF-8 byte order mark
			_, _ = br.Discard(2)
			continue
		}
		return b, br.UnreadByte()
	}
}

func hasCleartextPassword(raw json.RawMessage) bool {
	var b struct {
		Credentials struct {
			Password struct {
				Config struct {
					Password       string `json:"password"`
					HashedPassword string `json:"hashed_password"`
				} `json:"config"`
			} `json:"password"`
		} `json:"credentials"`
	}
	if json.Unmarshal(raw, &b) != nil {
		return false
	}
	return b.Credentials.Password.Config.Password != "" && b.Credentials.Password.Config.HashedPassword == ""
}

// importer sends records in batches and collects the results.
type importer struct {
	client    *identitiesClient
	batchSize int
	bar       *progressBar
	errOut    io.Writer
	quiet     bool
	dropIDs   bool
	summary   importSummary
	pending   []importRecord
	cleartext int
}

func (im *importer) run(ctx context.Context, inputs []string, stdin io.Reader) error {
	for _, name := range inputs {
		if err := im.readInput(ctx, name, stdin); err != nil {
			return err
		}
	}
	return im.flush(ctx)
}

// readInput queues the records of one input, flushing full batches.
func (im *importer) readInput(ctx context.Context, name string, stdin io.Reader) error {
	r, label := stdin, "stdin"
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return err
		}
		defer fh.Close()
		r, label = fh, name
	}
	return readRecords(r, label, func(rec importRecord) error {
		if im.dropIDs {
			rec.body = withoutID(rec.body)
		}
		if rec.cleartext && im.cleartext == importMaxCleartext {
			if err := im.flush(ctx); err != nil {
				return err
			}
		}
		im.pending = append(im.pending, rec)
		if rec.cleartext {
			im.cleartext++
		}
		if len(im.pending) == im.batchSize {
			return im.flush(ctx)
		}
		return nil
	})
}

// withoutID returns the record without its top-level "id" (a record that
// is not an object goes as it is, for the server to refuse).
func withoutID(body json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	if _, ok := m["id"]; !ok {
		return body
	}
	delete(m, "id")
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

func (im *importer) fail(rec importRecord, status int, reason string) {
	im.summary.Failed++
	f := importFailure{Source: rec.source, Status: status, Reason: reason}
	im.summary.Failures = append(im.summary.Failures, f)
	if !im.quiet {
		if im.bar != nil {
			im.bar.clear()
		}
		fmt.Fprintf(im.errOut, "%s: %s\n", rec.source, reason)
	}
}

// flush sends the pending records as one batch. A refused batch (for
// example a record that is not an object) fails its records, not the
// import; a transport failure stops the import.
func (im *importer) flush(ctx context.Context) error {
	if len(im.pending) == 0 {
		return nil
	}
	batch := im.pending
	im.pending, im.cleartext = nil, 0
	im.summary.Total += len(batch)

	var body bytes.Buffer
	body.WriteString(`{"identities":[`)
	for n, rec := range batch {
		if n > 0 {
			body.WriteByte(',')
		}
		body.WriteString(`{"create":`)
		body.Write(rec.body)
		body.WriteByte('}')
	}
	body.WriteString(`]}`)
	var resp struct {
		Identities []struct {
			Action   string `json:"action"`
			Identity string `json:"identity"`
			Error    *struct {
				Code    int    `json:"code"`
				Reason  string `json:"reason"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"identities"`
	}
	_, err := im.client.do(ctx, http.MethodPatch, "/admin/identities", body.Bytes(), &resp)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusForbidden:
		reason := "the batch holding this record was refused: " + ae.Error()
		if !im.dropIDs && ae.Status == http.StatusBadRequest && strings.Contains(ae.Error(), `unknown field "id"`) {
			// Ory Kratos' strict decoder: the file came from identities
			// export, whose records carry ids only Latchkey takes.
			reason += " (the server does not take identity ids, as Ory Kratos does not: import again with --drop-ids)"
		}
		for _, rec := range batch {
			im.fail(rec, ae.Status, reason)
		}
	case err != nil:
		return err
	case len(resp.Identities) != len(batch):
		return fmt.Errorf("the server answered %d results for %d records", len(resp.Identities), len(batch))
	default:
		for n, r := range resp.Identities {
			if r.Action == "create" {
				im.summary.Created++
				continue
			}
			reason, status := "refused", 0
			if r.Error != nil {
				status, reason = r.Error.Code, r.Error.Reason
				if reason == "" {
					reason = r.Error.Message
				}
			}
			im.fail(batch[n], status, reason)
		}
	}
	if im.bar != nil {
		im.bar.set(im.summary.Total)
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[=====>    ] 1200/5000  24%  850/s  ETA 4s" on one
// terminal line. total < 0 means unknown (no bar, no ETA).
type progressBar struct {
	w     io.Writer
	total int
	done  int
	start time.Time
}

func (p *progressBar) set(done int) {
	p.done = done
	p.draw()
}

func (p *progressBar) draw() {
	elapsed := time.Since(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed
	}
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%d identities  %.0f/s ", p.done, rate)
		return
	}
	const width = 30
	frac := float64(p.done) / float64(p.total)
	if frac > 1 {
		frac = 1
	}
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%s] %d/%d %3.0f%%  %.0f/s  ETA %s ", bar, p.done, p.total, frac*100, rate, eta)
}

func (p *progressBar) clear() { fmt.Fprint(p.w, "\r\033[K") }

func (p *progressBar) finish() {
	p.draw()
	fmt.Fprintln(p.w)
}
