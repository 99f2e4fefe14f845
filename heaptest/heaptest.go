package heaptest

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// childEnv marks the process InFreshProcess starts.
const childEnv = "LATCHKEY_TEST_HEAPTEST_CHILD"

// InFreshProcess reports whether t runs in a fresh process. When it does
// not, it runs t's test again in a child process of the same test binary
// (only that test), logs the child's output, fails t when the child
// failed, and returns false: the caller then returns. In the child it
// returns true and the caller measures.
func InFreshProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) != "" {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the test in a fresh process: %v", err)
	}
	return false
}

// Live returns the bytes of heap objects in use after two collections
// (the second frees what the first's finalizers released).
func Live() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
