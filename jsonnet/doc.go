// Package jsonnet evaluates operator-supplied Jsonnet (Kratos' OIDC claim
// mappers, web_hook bodies, tokenize_as claim mappers) in a sandbox.
//
// Jsonnet has no loops but it is Turing complete through recursion, and
// github.com/google/go-jsonnet offers no way to interrupt an evaluation. So,
// like Kratos' jsonnetsecure, every evaluation runs in a child process: the
// running binary started again with LATCHKEY_JSONNET_WORKER=1, which
// RunWorker turns into a one-shot evaluator. The parent kills the child when
// the time budget is spent, and the child stops itself when its heap grows
// past the memory cap or its output past the size cap. Inside the child the
// VM has no importer that reads disk or network (every import fails), no
// native functions and a bounded stack; std.trace goes nowhere.
//
// Programs read their inputs as Kratos passes them: each variable given to
// Evaluate is an external variable holding JSON, read with
// std.extVar('claims'), std.extVar('ctx'), std.extVar('session').
//
// A binary (or test binary) that evaluates Jsonnet must call RunWorker first
// thing in main (or TestMain); cmd/latchkey does.
//
// Linking go-jsonnet costs every process of the binary memory, the server
// included, although only the worker evaluates: its pre-parsed standard
// library (astgen.StdAst) is about 2.2 MB of statically initialised
// pointer data in the executable's .data section, not heap allocated at
// init. The garbage collector scans all of .data as roots on every cycle,
// so those pages stay resident and their size counts toward the heap goal
// (GOGC 100: 2.2 MB more heap before each collection); nothing the program
// does can make them unreachable. Measured on serve --dev under
// bench/soak.sh: highest sampled RSS per round 40.8-43.3 MB with
// evaluate stubbed out (no go-jsonnet linked) against 47.4-50.1 MB, mean
// heap goal 8.9-9.6 against 11.8-12.0 MB. Avoiding it needs go-jsonnet
// changed (a standard library parsed in the worker) or the worker linked
// into an executable of its own.
package jsonnet
