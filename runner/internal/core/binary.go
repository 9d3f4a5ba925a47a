package core

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"github.com/corscheck/corscheck/runner"
)

func FindBinary(what, explicit, env string, names []string, hint string) (string, error) {
	for _, p := range []string{explicit, os.Getenv(env)} {
		if p == "" {
			continue
		}
		if found, err := exec.LookPath(p); err == nil {
			return found, nil
		}
		return "", fmt.Errorf("%w: no %s at %q: %s", runner.ErrNoBrowser, what, p, hint)
	}
	for _, c := range names {
		if found, err := exec.LookPath(c); err == nil {
			return found, nil
		}
	}
	return "", fmt.Errorf("%w: no %s found: %s", runner.ErrNoBrowser, what, hint)
}

func LoopbackLiteral(h string) bool {
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}
