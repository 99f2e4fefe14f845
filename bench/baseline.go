package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// BaselineHandler returns a trivial handler that answers every request with
// 200 and a JSON body of exactly size bytes (at least 2): the cheapest
// server answer the same size as the scenario it is compared with.
func BaselineHandler(size int) http.Handler {
	size = max(size, 2)
	body := bytes.Repeat([]byte("x"), size)
	body[0], body[size-1] = '"', '"'
	length := strconv.Itoa(size)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{length}
		w.Write(body)
	})
}

// ServeBaseline serves BaselineHandler(size) on ln until ctx ends, with the
// server settings of `latchkey serve`' listeners.
func ServeBaseline(ctx context.Context, ln net.Listener, size int) error {
	srv := &http.Server{Handler: BaselineHandler(size), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("baseline server: %w", err)
	}
}

// startBaselineInProcess runs the baseline server inside this process.
func startBaselineInProcess(ctx context.Context, size int) (string, int, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, fmt.Errorf("baseline listen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); ServeBaseline(ctx, ln, size) }()
	return "http://" + ln.Addr().String(), 0, func() { cancel(); <-done }, nil
}

// baseline measures the trivial handler once per body size of the session
// checks that ran before it (whoami, validate, me: baseline@whoami …), or
// once with Options.BaselineBodySize when none ran.
func (r *Runner) baseline(ctx context.Context) ([]Result, error) {
	r.mu.Lock()
	bodies := slices.Clone(r.bodies)
	r.mu.Unlock()
	if len(bodies) == 0 {
		res, err := r.baselineAt(ctx, "baseline", r.o.BaselineBodySize, "the configured size")
		return []Result{res}, err
	}
	var out []Result
	for _, b := range bodies {
		res, err := r.baselineAt(ctx, "baseline@"+b.scenario, b.size, b.scenario+"'s size")
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func (r *Runner) baselineAt(ctx context.Context, name string, size int, from string) (Result, error) {
	start := r.o.StartBaseline
	if start == nil {
		start = startBaselineInProcess
	}
	u, pid, stop, err := start(ctx, size)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	if _, err := CheckTarget(ctx, u); err != nil {
		return Result{}, err
	}
	h := http.Header{"Accept": {"application/json"}}
	if _, err := fetch(ctx, r.hc, http.MethodGet, u, h, nil, http.StatusOK, nil); err != nil {
		return Result{}, err
	}
	note := fmt.Sprintf("%d B body (%s), separate process", size, from)
	cpuOf := "baseline-server"
	if pid == 0 {
		// In this process the server's CPU cannot be told from the
		// client's: report both together and say so.
		pid, cpuOf = selfPID, "bench (client and server)"
		note = fmt.Sprintf("%d B body (%s), in this process", size, from)
	}
	res, err := r.measure(ctx, name, note, pid, cpuOf, 1, func(ctx context.Context, _ int, _ int64) error {
		_, err := fetch(ctx, r.hc, http.MethodGet, u, h, nil, http.StatusOK, nil)
		return err
	})
	res.Crypto = "none"
	return res, err
}
