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
package jsonnet
