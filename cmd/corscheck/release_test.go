package main

import (
	"archive/tar"
	"compress/gzip"
	"debug/elf"
	"debug/macho"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make release builds static binaries with the version stamped in and a
// checksum file that verifies. Two of the four platforms keep it quick;
// the loop is the same for all.
func TestMakeRelease(t *testing.T) {
	dist := t.TempDir()
	cmd := exec.Command("make", "-C", "../..", "release", "DIST="+dist, "VERSION=v9.9.9-test", "RELEASE_PLATFORMS=linux/amd64 darwin/arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	sums := exec.Command("sha256sum", "-c", "SHA256SUMS")
	sums.Dir = dist
	if out, err := sums.CombinedOutput(); err != nil || strings.Count(string(out), ": OK") != 2 {
		t.Fatalf("checksums: %v\n%s", err, out)
	}
	linux := extract(t, filepath.Join(dist, "corscheck-v9.9.9-test-linux-amd64.tar.gz"))
	f, err := elf.Open(linux)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the linux binary is dynamically linked")
		}
	}
	f.Close()
	out, err := exec.Command(linux, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "corscheck v9.9.9-test") {
		t.Errorf("version: %v %q", err, out)
	}
	darwin := extract(t, filepath.Join(dist, "corscheck-v9.9.9-test-darwin-arm64.tar.gz"))
	m, err := macho.Open(darwin)
	if err != nil || m.Cpu != macho.CpuArm64 {
		t.Fatalf("darwin binary: %v", err)
	}
	m.Close()
}

// extract unpacks the tarball's corscheck binary and returns its path.
func extract(t *testing.T, tgz string) string {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no corscheck binary: %v", tgz, err)
		}
		if filepath.Base(h.Name) != "corscheck" {
			continue
		}
		out := filepath.Join(t.TempDir(), "corscheck")
		w, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, tr); err != nil {
			t.Fatal(err)
		}
		w.Close()
		return out
	}
}

// A binary built from a clone says which commit it is.
func TestVersionFromClone(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to build from a clone")
	}
	exe := filepath.Join(t.TempDir(), "corscheck")
	dir := "."
	if st, err := os.Stat("../../.git"); err == nil && !st.IsDir() {
		// A git worktree (.git is a file), which Go does not stamp: build
		// from a clone, as CI does.
		clone := filepath.Join(t.TempDir(), "clone")
		if out, err := exec.Command("git", "clone", "-q", "--shared", "../..", clone).CombinedOutput(); err != nil {
			t.Fatalf("clone: %v\n%s", err, out)
		}
		dir = filepath.Join(clone, "cmd", "corscheck")
	}
	build := exec.Command("go", "build", "-buildvcs=true", "-o", exe, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	revCmd := exec.Command("git", "rev-parse", "HEAD")
	revCmd.Dir = dir
	rev, err := revCmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, "version").Output()
	if err != nil || !strings.Contains(string(out), strings.TrimSpace(string(rev))[:12]) || strings.Contains(string(out), "corscheck dev") {
		t.Fatalf("version: %v %q, want the commit %s", err, out, rev)
	}
}
