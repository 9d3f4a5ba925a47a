package main

import (
	"io"
	"strings"
	"testing"
)

// FuzzRunFlags feeds corscheck run's flag parser arbitrary arguments
// (NUL-separated): it never panics, and a refusal is one line that names
// the flag. make test runs it for a few seconds.
func FuzzRunFlags(f *testing.F) {
	for _, seed := range []string{
		"--resolve\x00x",
		"--resolve\x00api.test:443:127.0.0.1",
		"--resolve=[::1]:a",
		"--timeout\x0010",
		"--header\x00X: y",
		"--never\x00POST /logout",
		"--never\x00DELETE",
		"--browser\x00safari",
		"--rate\x00-1",
		"--shard\x001/0",
		"--label-filter\x00!method:DELETE && !route:logout",
		"--browser-url\x00dns+http://chrome:9222",
		"--path-param\x00id",
		"--cookie\x00=",
		"-h",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		args := strings.Split(raw, "\x00")
		rf := newRunFlags(io.Discard)
		_, err := parseInterleaved(rf.fs, args)
		if err != nil && err.Error() != "" && strings.Contains(strings.TrimSpace(err.Error()), "\n") {
			t.Fatalf("a flag error of more than one line for %q: %q", args, err)
		}
	})
}
