package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the module root, two levels above this package.
const repoRoot = "../.."

// TestDockerfileBuildsStaticBinary runs the Dockerfile's own build command
// (CGO off) and checks that the result is statically linked and runs, and
// that the image's last stage is an empty base running as a non-root user.
func TestDockerfileBuildsStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	df, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var build, lastFrom, user string
	sc := bufio.NewScanner(strings.NewReader(string(df)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "RUN CGO_ENABLED=0 go build"):
			build = strings.TrimPrefix(line, "RUN ")
		case strings.HasPrefix(line, "FROM "):
			lastFrom, user = line, ""
		case strings.HasPrefix(line, "USER "):
			user = strings.TrimPrefix(line, "USER ")
		}
	}
	if build == "" {
		t.Fatal("the Dockerfile has no `RUN CGO_ENABLED=0 go build` line")
	}
	if !regexp.MustCompile(`^FROM (scratch|gcr\.io/distroless/static\S*)$`).MatchString(lastFrom) {
		t.Errorf("the image ships %q; want FROM scratch or distroless/static", lastFrom)
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("the image runs as %q; want a non-root USER", user)
	}

	out := filepath.Join(t.TempDir(), "latchkey")
	build = strings.NewReplacer("${VERSION}", "test", "${COMMIT}", "deadbeef", "/out/latchkey", out).Replace(build)
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (PT_INTERP): it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	v, err := exec.Command(out, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "test") {
		t.Errorf("latchkey version: %v\n%s", err, v)
	}
}

// TestDocumentedConfigsPass checks every YAML sample in README.md and
// docs/deploy.md with the loader `latchkey config check` uses.
func TestDocumentedConfigsPass(t *testing.T) {
	for _, doc := range []string{"README.md", "docs/deploy.md"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
		if len(blocks) == 0 {
			t.Fatalf("%s has no yaml sample", doc)
		}
		for i, m := range blocks {
			file := filepath.Join(t.TempDir(), "latchkey.yml")
			if err := os.WriteFile(file, []byte(m[1]), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := loadConfig(file, false); err != nil {
				t.Errorf("%s, yaml sample %d: %v", doc, i+1, err)
			}
		}
	}
}
