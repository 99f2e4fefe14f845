// Package bench is the load generator behind `latchkey bench`: a closed-loop
// HTTP/1.1 keep-alive client that measures an identity server through the
// Kratos and Hanko wire APIs only, so the same scenarios run against Latchkey,
// Ory Kratos or Hanko.
//
// A run is a list of scenarios (whoami, validate, me, baseline,
// kratos-login, kratos-register, hanko-login, passkey-login, totp-aal2,
// oidc-login, admin-create, hanko-admin-create, ui-login-page,
// batch-import, lookup-at-scale, hash). Each scenario prepares what it needs through the public or
// admin API (identities, sessions), warms up, then runs a fixed number of
// workers in a closed loop for a bounded time and request count, and reports
// throughput, latency percentiles, errors and, when the server's PID is
// known, the server's CPU time per successful and per attempted operation
// and its peak RSS read from /proc, and, when the database server's PID is
// known, the CPU time of it and its descendants per operation. Failures are
// counted by kind (ErrorKind). A scenario whose endpoints the target lacks
// (404 or 405 during setup; for the Hanko scenarios any 4xx to POST /login)
// or whose server configuration is missing is reported as skipped with the
// reason, never as a number.
//
// Targets must be loopback addresses (127.0.0.0/8, ::1, localhost): the
// client refuses any other URL before sending a request and refuses to dial
// any other address.
package bench
