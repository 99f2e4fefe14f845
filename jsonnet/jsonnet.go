package jsonnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout   = 2 * time.Second
	DefaultMaxOutput = 1 << 20  // 1 MiB of JSON
	DefaultMaxMemory = 64 << 20 // 64 MiB of heap in the child
	DefaultMaxStack  = 500
	DefaultParallel  = 4
	// MaxCodeSize is the largest program Evaluate accepts.
	MaxCodeSize = 1 << 20
)

// workerEnv marks a process started to evaluate one program.
const workerEnv = "LATCHKEY_JSONNET_WORKER"

// Kind classifies an evaluation failure.
type Kind string

// The kinds of Error.
const (
	KindEval        Kind = "eval"        // the program failed: syntax, runtime error, error "…", bad import
	KindTimeout     Kind = "timeout"     // the time budget was spent
	KindTooLarge    Kind = "too_large"   // the output or the child's heap passed its cap
	KindUnavailable Kind = "unavailable" // the worker could not be started or answered garbage
)

// Error is an evaluation failure. Message is meant for the operator (logs,
// admin errors); it may quote the program but never the variables.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return "jsonnet: " + string(e.Kind) + ": " + e.Message }

// Options bounds evaluations. Zero fields take the defaults.
type Options struct {
	Timeout   time.Duration // wall-clock budget of one evaluation, child start included
	MaxOutput int           // bytes of JSON output
	MaxMemory int64         // bytes of live heap in the child
	MaxStack  int           // Jsonnet call depth
	Parallel  int           // evaluations running at once; others wait (honouring ctx)
	// Command starts the worker; empty means this executable. The command
	// must call RunWorker before anything else.
	Command []string
}

// Evaluator runs sandboxed evaluations. It is safe for concurrent use.
type Evaluator struct {
	opts  Options
	slots chan struct{}
}

// New returns an Evaluator with o's bounds. It fails only when the running
// executable cannot be found and no Command is given.
func New(o Options) (*Evaluator, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = DefaultMaxOutput
	}
	if o.MaxMemory <= 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	if o.MaxStack <= 0 {
		o.MaxStack = DefaultMaxStack
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if len(o.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("jsonnet: find own executable for the worker: %w", err)
		}
		// -test.run matches nothing, so a test binary that forgot to call
		// RunWorker answers garbage instead of running its tests again.
		o.Command = []string{exe, "-test.run=^$"}
	}
	return &Evaluator{opts: o, slots: make(chan struct{}, o.Parallel)}, nil
}

// request is what the parent sends the worker on stdin.
type request struct {
	Name      string                     `json:"name"`
	Code      string                     `json:"code"`
	Vars      map[string]json.RawMessage `json:"vars"`
	Args      map[string]json.RawMessage `json:"args,omitempty"`
	MaxOutput int                        `json:"max_output"`
	MaxMemory int64                      `json:"max_memory"`
	MaxStack  int                        `json:"max_stack"`
}

// response is what the worker writes on stdout.
type response struct {
	Output json.RawMessage `json:"output,omitempty"`
	Kind   Kind            `json:"kind,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Evaluate runs code (name appears in error messages, e.g. the mapper URL)
// with each of vars as an external variable holding that JSON value and
// returns the JSON the program produces. Errors are *Error, or ctx's error
// when ctx ends first.
func (e *Evaluator) Evaluate(ctx context.Context, name, code string, vars map[string]json.RawMessage) (json.RawMessage, error) {
	return e.EvaluateWithArgs(ctx, name, code, vars, nil)
}

// EvaluateWithArgs is Evaluate with top-level arguments besides the
// external variables: when the program is a function, each of args (JSON)
// is passed as its parameter of that name, as Kratos calls web_hook body
// templates (function(ctx) { … }). A program that is not a function
// ignores args.
func (e *Evaluator) EvaluateWithArgs(ctx context.Context, name, code string, vars, args map[string]json.RawMessage) (json.RawMessage, error) {
	for k, v := range args {
		if !json.Valid(v) {
			return nil, &Error{Kind: KindEval, Message: fmt.Sprintf("%s: argument %q is not valid JSON", name, k)}
		}
	}
	if len(code) > MaxCodeSize {
		return nil, &Error{Kind: KindTooLarge, Message: fmt.Sprintf("%s: the program is larger than %d bytes", name, MaxCodeSize)}
	}
	for k, v := range vars {
		if !json.Valid(v) {
			return nil, &Error{Kind: KindEval, Message: fmt.Sprintf("%s: external variable %q is not valid JSON", name, k)}
		}
	}
	in, err := json.Marshal(request{Name: name, Code: code, Vars: vars, Args: args,
		MaxOutput: e.opts.MaxOutput, MaxMemory: e.opts.MaxMemory, MaxStack: e.opts.MaxStack})
	if err != nil {
		return nil, &Error{Kind: KindEval, Message: fmt.Sprintf("%s: encode request: %v", name, err)}
	}
	select {
	case e.slots <- struct{}{}:
		defer func() { <-e.slots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	run, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(run, e.opts.Command[0], e.opts.Command[1:]...)
	cmd.Env = append(os.Environ(), workerEnv+"=1", "GOMAXPROCS=1", "GOTRACEBACK=none")
	cmd.Stdin = bytes.NewReader(in)
	var out limitedBuffer
	out.max = e.opts.MaxOutput + 4096 // room for the envelope
	cmd.Stdout = &out
	cmd.Stderr = io.Discard
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if run.Err() != nil {
		return nil, &Error{Kind: KindTimeout, Message: fmt.Sprintf("%s: evaluation took longer than %s", name, e.opts.Timeout)}
	}
	if out.overflow {
		return nil, &Error{Kind: KindTooLarge, Message: fmt.Sprintf("%s: output is larger than %d bytes", name, e.opts.MaxOutput)}
	}
	var resp response
	if jerr := json.Unmarshal(out.Bytes(), &resp); jerr != nil || (resp.Output == nil && resp.Kind == "") {
		msg := "the worker gave no answer"
		if err != nil {
			msg = "the worker failed: " + err.Error()
		}
		return nil, &Error{Kind: KindUnavailable, Message: fmt.Sprintf("%s: %s (a binary evaluating Jsonnet must call jsonnet.RunWorker first)", name, msg)}
	}
	if resp.Kind != "" {
		return nil, &Error{Kind: resp.Kind, Message: resp.Error}
	}
	return resp.Output, nil
}

// limitedBuffer keeps at most max bytes and remembers whether more came.
type limitedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		b.overflow = true
		return 0, errors.New("output too large")
	}
	return b.Buffer.Write(p)
}

// trimName shortens long names (base64:// URLs) for messages.
func trimName(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return strings.TrimSpace(s)
}
