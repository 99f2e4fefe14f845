// Package observe holds Latchkey's Prometheus registry and OpenTelemetry
// tracing. Other packages never reach it: they record through small
// interfaces and hook functions of their own (api.RequestObserver, the
// faces' AuthRecorder, the workers' OnFailure, the hasher's observer, the
// SQL store's tracer), and cmd/latchkey wires this package's
// implementations into them.
package observe
