package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteJSON writes results as an indented JSON array. It returns the
// writer's error.
func WriteJSON(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

func optMs(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *v)
}

func optMB(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *v)
}

// WriteText writes one line per result: throughput, latency percentiles,
// errors, CPU per op and peak RSS. It returns the writer's error.
func WriteText(w io.Writer, results []Result) error {
	var b strings.Builder
	for _, r := range results {
		if r.Skipped != "" {
			fmt.Fprintf(&b, "%-28s skipped: %s\n", r.Scenario, r.Skipped)
			continue
		}
		if r.untimed() {
			fmt.Fprintf(&b, "%-28s %9.1f items/s  %d items in %.1fs  (%s)\n", r.Scenario, r.OpsPerSec, r.Ops, r.Seconds, r.Note)
			continue
		}
		fmt.Fprintf(&b, "%-28s %9.1f ops/s  p50 %7.2fms  p90 %7.2fms  p99 %7.2fms  max %7.2fms  errors %d  cpu %s ms/op (%s per attempt)  peak RSS %s MB",
			r.Scenario, r.OpsPerSec, r.P50, r.P90, r.P99, r.Max, r.Errors, optMs(r.CPUMsPerOp), optMs(r.CPUMsPerAttempt), optMB(r.PeakRSSMB))
		if r.DBCPUMsPerAttempt != nil {
			fmt.Fprintf(&b, "  db cpu %s ms/op (%s per attempt)", optMs(r.DBCPUMsPerOp), optMs(r.DBCPUMsPerAttempt))
		}
		if r.Note != "" {
			fmt.Fprintf(&b, "  (%s)", r.Note)
		}
		b.WriteByte('\n')
		if r.Crypto != "" {
			fmt.Fprintf(&b, "%-28s cryptography per op: %s\n", "", r.Crypto)
		}
		for _, k := range errorKindsByCount(r.ErrorKinds) {
			fmt.Fprintf(&b, "%-28s %d× %s\n", "", r.ErrorKinds[k], k)
		}
		if r.FirstError != "" {
			fmt.Fprintf(&b, "%-28s first error: %s\n", "", r.FirstError)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes results as a Markdown table. It returns the writer's
// error.
func WriteMarkdown(w io.Writer, results []Result) error {
	var b strings.Builder
	b.WriteString("| scenario | ops/s | p50 ms | p90 ms | p99 ms | max ms | errors | CPU ms/op | CPU ms/attempt | DB CPU ms/op | peak RSS MB | load1 | notes |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range results {
		if r.Skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped | | | | | | | | | | | %s |\n", r.Scenario, mdEscape(r.Skipped))
			continue
		}
		if r.untimed() {
			fmt.Fprintf(&b, "| %s | %.1f items/s | | | | | %d | | | | | %.2f | %d items in %.1f s; %s |\n",
				r.Scenario, r.OpsPerSec, r.Errors, r.Load1, r.Ops, r.Seconds, mdEscape(r.Note))
			continue
		}
		note := r.Note
		if r.CPUOf != "" && r.CPUOf != "server" {
			note += "; CPU of " + r.CPUOf
		}
		if r.Crypto != "" {
			note += "; cryptography per op: " + r.Crypto
		}
		for _, k := range errorKindsByCount(r.ErrorKinds) {
			note += fmt.Sprintf("; %d× %s", r.ErrorKinds[k], k)
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.2f | %.2f | %.2f | %.2f | %d | %s | %s | %s | %s | %.2f | %s |\n",
			r.Scenario, r.OpsPerSec, r.P50, r.P90, r.P99, r.Max, r.Errors, optMs(r.CPUMsPerOp), optMs(r.CPUMsPerAttempt),
			optMs(r.DBCPUMsPerOp), optMB(r.PeakRSSMB), r.Load1, mdEscape(note))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// errorKindsByCount returns the kinds of kinds, most frequent first.
func errorKindsByCount(kinds map[string]int64) []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := cmp.Compare(kinds[b], kinds[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return out
}

// untimed reports whether r counts items without per-op latencies (the
// seeding step of lookup-at-scale).
func (r *Result) untimed() bool { return r.Ops > 0 && r.Max == 0 && r.P50 == 0 }

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
