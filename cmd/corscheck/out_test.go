package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A bad --out is exit 2 with one line before any probe is sent.
func TestRunBadOut(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, c := range []struct{ out, want string }{
		{file, "is a file, not a directory"},
		{"/proc/x", "cannot create it"},
		{filepath.Join(file, "sub"), "cannot create it"},
	} {
		r := corscheck(t, nil, "run", "--out", c.out)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("--out %s: exit %d, want 2 and one line with %q:\n%s", c.out, r.code, c.want, r.stderr)
		}
		if r.took > 5*time.Second || strings.Contains(r.stdout, "passed") {
			t.Errorf("--out %s: the run went ahead (%v):\n%s", c.out, r.took, r.stdout)
		}
	}
}

// A read-only --out: checked as an unprivileged user (root writes anywhere).
func TestRunReadOnlyOut(t *testing.T) {
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o755) // t.TempDir makes both 0700
	os.Chmod(base, 0o755)
	ro := filepath.Join(base, "readonly")
	os.Mkdir(ro, 0o755)
	os.WriteFile(filepath.Join(ro, "results.json"), []byte("{}"), 0o644)
	os.Chmod(ro, 0o555)
	cmd := exec.Command(bin, "run", "--out", ro)
	if os.Geteuid() == 0 {
		// The binary must be reachable by nobody: copy it beside the dir.
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		exe := filepath.Join(base, "corscheck")
		if err := os.WriteFile(exe, b, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(exe, "run", "--out", ro)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		home := filepath.Join(base, "home")
		os.Mkdir(home, 0o777)
		cmd.Env = append(os.Environ(), "HOME="+home, "TMPDIR="+home)
	}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "is not writable") {
		t.Fatalf("read-only --out: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(ro, "results.json")); string(b) != "{}" {
		t.Fatal("the previous results.json changed")
	}
}

// The final write failing leaves no mix of two runs: the previous run's
// files stay as they were, no temporary file is left, and the run says
// which file and why (exit 2).
func TestRunFinalWriteFailureLeavesNoMix(t *testing.T) {
	out := t.TempDir()
	for _, n := range []string{"results.json", "report.html"} {
		os.WriteFile(filepath.Join(out, n), []byte("previous run"), 0o644)
	}
	// junit.xml cannot be replaced: a non-empty directory stands there.
	os.MkdirAll(filepath.Join(out, "junit.xml", "keep"), 0o755)
	r := corscheck(t, nil, "run", "--out", out, "--label-filter", "family:simple")
	if r.code != 2 || !strings.Contains(r.stderr, filepath.Join(out, "junit.xml")) || !strings.Contains(r.stderr, "left as they were") {
		t.Fatalf("exit %d, want 2 naming junit.xml and the previous set kept:\n%s", r.code, r.stderr)
	}
	for _, n := range []string{"results.json", "report.html"} {
		if b, _ := os.ReadFile(filepath.Join(out, n)); string(b) != "previous run" {
			t.Errorf("%s changed: a mix of two runs", n)
		}
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if !strings.Contains(r.stdout, "passed") {
		t.Errorf("the verdicts were not printed:\n%s", r.stdout)
	}
}
