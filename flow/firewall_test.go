package flow_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportFirewall keeps the engine free of HTTP and SQL: it must not
// depend, even indirectly, on net/http or database/sql.
func TestImportFirewall(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/latchkey/latchkey/flow").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "net/http" || dep == "database/sql" {
			t.Errorf("flow depends on %s", dep)
		}
	}
}
