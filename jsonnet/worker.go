package jsonnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	gojsonnet "github.com/google/go-jsonnet"
)

// RunWorker turns the process into a one-shot evaluator when the Evaluator
// started it (LATCHKEY_JSONNET_WORKER=1): it reads one request on stdin,
// writes the answer on stdout and exits. Otherwise it returns at once.
func RunWorker() {
	if os.Getenv(workerEnv) != "1" {
		return
	}
	var w sync.Mutex
	answer := func(r response) {
		w.Lock() // the heap watchdog and the evaluation may both answer
		_ = json.NewEncoder(os.Stdout).Encode(r)
		os.Exit(0)
	}
	var req request
	if err := json.NewDecoder(io.LimitReader(os.Stdin, 4*MaxCodeSize)).Decode(&req); err != nil {
		answer(response{Kind: KindUnavailable, Error: "read request: " + err.Error()})
	}
	if req.MaxMemory > 0 {
		debug.SetMemoryLimit(req.MaxMemory)
		go watchHeap(req.MaxMemory, func() {
			answer(response{Kind: KindTooLarge, Error: fmt.Sprintf("%s: evaluation needed more than %d bytes of memory", trimName(req.Name), req.MaxMemory)})
		})
	}
	out, err := evaluate(req)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			answer(response{Kind: e.Kind, Error: e.Message})
		}
		answer(response{Kind: KindEval, Error: err.Error()})
	}
	answer(response{Output: out})
}

// watchHeap calls over when the live heap passes max.
func watchHeap(max int64, over func()) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for {
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 && int64(s[0].Value.Uint64()) > max {
			over()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// noImports refuses every import: programs get their inputs only through
// external variables.
type noImports struct{}

func (noImports) Import(_, importedPath string) (gojsonnet.Contents, string, error) {
	return gojsonnet.Contents{}, "", fmt.Errorf("import %q refused: imports are disabled; pass data through std.extVar", importedPath)
}

// evaluate runs one request in this process with the sandboxed VM. It is
// not interruptible: only the worker calls it.
func evaluate(req request) (json.RawMessage, error) {
	vm := gojsonnet.MakeVM()
	vm.Importer(noImports{})
	vm.SetTraceOut(io.Discard)
	vm.MaxStack = req.MaxStack
	if vm.MaxStack <= 0 {
		vm.MaxStack = DefaultMaxStack
	}
	for k, v := range req.Vars {
		vm.ExtCode(k, string(v))
	}
	for k, v := range req.Args {
		vm.TLACode(k, string(v))
	}
	out, err := vm.EvaluateAnonymousSnippet(trimName(req.Name), req.Code)
	if err != nil {
		return nil, &Error{Kind: KindEval, Message: err.Error()}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(out)); err != nil {
		return nil, &Error{Kind: KindEval, Message: fmt.Sprintf("%s: output is not JSON: %v", trimName(req.Name), err)}
	}
	if req.MaxOutput > 0 && compact.Len() > req.MaxOutput {
		return nil, &Error{Kind: KindTooLarge, Message: fmt.Sprintf("%s: output is larger than %d bytes", trimName(req.Name), req.MaxOutput)}
	}
	return json.RawMessage(compact.Bytes()), nil
}
