package core

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/corscheck/corscheck/runner"
)

// PagePath is where the synthetic origin page lives on its virtual origin.
const PagePath = "/__corscheck__/page.html"

// OpaqueHost hosts the sandboxed page of the null origin; .invalid never resolves.
const OpaqueHost = "https://opaque.corscheck.invalid"

// PageHTML is the whole origin page: fetches are injected by Evaluate.
const PageHTML = "<!doctype html><meta charset=utf-8><title>corscheck origin page</title>"

// PageURLFor returns the URL of the synthetic page for an origin, and whether
// it must be sandboxed (the opaque origin "null").
func PageURLFor(origin string) (string, bool, error) {
	if origin == "null" {
		return OpaqueHost + PagePath, true, nil
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Origins with characters Go's URL parser refuses (Chrome accepts
		// some) are used as written.
		if strings.HasPrefix(origin, "http://") || strings.HasPrefix(origin, "https://") {
			return origin + PagePath, false, nil
		}
		return "", false, fmt.Errorf("origin %q: want scheme://host[:port] or null", origin)
	}
	return origin + PagePath, false, nil
}

// SetupKey identifies a page setup: pages made with equal setups can be
// reused for one another.
func SetupKey(s runner.PageSetup) string {
	k, _ := json.Marshal(s)
	return string(k)
}
