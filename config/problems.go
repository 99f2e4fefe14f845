package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration: the key path it concerns
// (e.g. "serve.public.port" or "identity.schemas[1].url"; empty when the
// problem is not about one key, such as a YAML syntax error) and a message
// saying what is wrong and, where possible, how to fix it.
type Problem struct {
	Key     string
	Message string
}

// String formats the problem as "key: message".
func (p Problem) String() string {
	if p.Key == "" {
		return p.Message
	}
	return p.Key + ": " + p.Message
}

// Split returns the message's two halves: what is wrong and how to fix it
// (messages say "what; fix"). A message without a fix gets a pointer to
// the key's entry in the reference.
func (p Problem) Split() (problem, fix string) {
	if what, how, ok := strings.Cut(p.Message, "; "); ok {
		return what, how
	}
	if p.Key == "" {
		return p.Message, "correct the file and run latchkey config check again"
	}
	return p.Message, "see " + p.Key + " in `latchkey config reference` (config/REFERENCE.md)"
}

// Problems lists everything wrong with a configuration. It is the error type
// Load and Validate return, so a user can fix every problem in one pass;
// use errors.As to get at the list.
type Problems []Problem

// Error returns one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps *Problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// sorted orders the problems by key (keeping the order of problems with the
// same key) and drops exact duplicates.
func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Warning is something Latchkey accepted but the operator should know about,
// such as a Kratos setting that Latchkey ignores.
type Warning struct {
	Key     string
	Message string
}

// String formats the warning as "key: message".
func (w Warning) String() string {
	if w.Key == "" {
		return w.Message
	}
	return w.Key + ": " + w.Message
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}
