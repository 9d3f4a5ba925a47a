package suite

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// Config is everything a run needs; the CLI and `go test` fill it from the
// same flags (RegisterFlags).
type Config struct {
	PolicyPath string
	Target     string
	Fixture    string
	Out        string
	Timeout    time.Duration
	Browser    runner.Options
	// AllowRemote allows a target that is not on loopback.
	AllowRemote bool
	// Wait is how long to wait for a target that does not accept connections yet.
	Wait    time.Duration
	Version string
	// Headers are added to every request ('Name: value', --header).
	Headers []string
	// Cookies are put in the browser's jar ('name=value; attrs', --cookie).
	Cookies []string
	// CookieFiles are Netscape cookies.txt files (--cookie-file).
	CookieFiles []string
	// OpenAPI is an OpenAPI file whose operations are the routes (--openapi).
	OpenAPI string
	// PathParams are path parameter samples ('name=value', --path-param).
	PathParams []string
	// Rate limits requests per second to the target (0: no limit).
	Rate float64
	// Stack names the server stack whose fixes to print (--stack).
	Stack string
	// Getenv reads environment variables for ${VAR} in auth values (os.LookupEnv when nil).
	Getenv func(string) (string, bool)
	// Progress receives progress lines; nil is quiet.
	Progress io.Writer
	// ProgressInPlace rewrites one progress line (a terminal) instead of
	// printing a line per step (a CI log).
	ProgressInPlace bool
	// ListOnly prepares the matrix without sending anything (--list): no
	// loopback check, no fixture.
	ListOnly bool
	// Exhaustive probes every route in full (no adaptive matrix).
	Exhaustive bool
	// SamplePerGroup is how many members of each group of alike routes are
	// probed in full besides the representative.
	SamplePerGroup int
	// Shard is "K/N": run only the K-th of N stable slices of the matrix
	// (corscheck merge combines the shards' outputs).
	Shard string
	// Never are --never rules ("POST /logout"), added to the policy's never:.
	Never []string
	// NoCanary turns off the canary cookie corscheck puts in the browser's
	// jar for the target's site (so a Cookie header is present, as for a
	// signed-in victim).
	NoCanary bool
	// BaseDir resolves relative paths (policy, openapi, out): the directory
	// the user ran the command in (go test runs inside suite/).
	BaseDir string
}

// RegisterFlags binds the run flags to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.PolicyPath, "policy", "", "policy file (YAML or JSON); default: the built-in demo policy")
	fs.StringVar(&c.Target, "target", "", "URL to test; overrides the policy's target; default: the built-in demo target")
	fs.StringVar(&c.Fixture, "fixture", "", "run against a built-in fixture by name (see: corscheck fixtures list)")
	fs.StringVar(&c.Out, "out", c.Out, "directory for results.json, junit.xml and report.html")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "time limit for each fetch, body included; a fetch that takes longer is an error, never blocked")
	c.Browser.RegisterFlags(fs)
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a target that is not on loopback (corscheck sends real PUT/DELETE requests)")
	fs.DurationVar(&c.Wait, "wait", 0, "wait up to this long for the target to accept connections (a server starting in the background)")
	fs.Var((*stringList)(&c.Headers), "header", "'Name: value' added to every request, e.g. 'Authorization: Bearer ${STAGING_TOKEN}' (repeatable; ${VAR} reads the environment; redacted in every output)")
	fs.Var((*stringList)(&c.Cookies), "cookie", "'name=value[; SameSite=None; Secure]' put in the browser's cookie jar for the target (repeatable; default Secure; SameSite=None on https; redacted)")
	fs.Var((*stringList)(&c.CookieFiles), "cookie-file", "cookies.txt in Netscape format (as curl and browser extensions export it) for the browser's jar (repeatable)")
	fs.StringVar(&c.OpenAPI, "openapi", "", "OpenAPI 3.0/3.1 file (YAML or JSON): its operations are the routes probed under --target")
	fs.Var((*stringList)(&c.PathParams), "path-param", "'name=value' sample for a path parameter {name} (repeatable)")
	fs.Float64Var(&c.Rate, "rate", 0, "at most this many requests per second to the target, preflights included (default: no limit); 429 answers are retried after Retry-After")
	fs.BoolVar(&c.Exhaustive, "exhaustive", false, fmt.Sprintf("probe every route in full (from %d routes corscheck groups routes that answer a fingerprint alike and probes a representative and a sample of each)", scenarios.AdaptiveMinRoutes))
	fs.IntVar(&c.SamplePerGroup, "sample-per-group", 2, "members of each group of alike routes probed in full besides the representative")
	fs.StringVar(&c.Shard, "shard", "", "K/N: run the K-th of N stable slices of the matrix (by case ID); corscheck merge combines the shards' --out directories")
	fs.StringVar(&c.Stack, "stack", "", "your server stack, for the fixes printed under each finding (default: detected from the responses)")
	fs.Var((*stringList)(&c.Never), "never", "'METHOD /path' corscheck must never send, e.g. 'POST /logout' or 'DELETE /*' (repeatable; added to the policy's never:)")
	fs.BoolVar(&c.NoCanary, "no-canary", false, "do not put corscheck's canary cookie (corscheck_canary=1) in the browser's jar for the target's site")
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ", ")
}

func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// ParseHeader parses 'Name: value' (--header), refusing the headers a page
// cannot set: a Cookie header would be dropped by the browser without a
// word, so it is refused with the flag that works.
func ParseHeader(raw string) (string, string, error) {
	name, value, ok := strings.Cut(raw, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return "", "", fmt.Errorf("--header %q: write 'Name: value', e.g. --header 'X-Request-ID: 42'", scenarios.Visible(raw))
	}
	if strings.EqualFold(name, "cookie") {
		return "", "", fmt.Errorf("--header 'Cookie: ...': browsers drop a Cookie header set by a page; use --cookie 'name=value' (or --cookie-file) to put it in the browser's cookie jar")
	}
	if err := scenarios.CheckRequestHeader(name); err != nil {
		return "", "", fmt.Errorf("--header %s: %v", scenarios.Visible(name), err)
	}
	return name, value, nil
}

// ParseCookieFile reads a Netscape cookies.txt: domain, include-subdomains,
// path, secure, expiry, name, value, tab-separated; #HttpOnly_ prefixes
// mark HttpOnly cookies.
func ParseCookieFile(path string) ([]scenarios.CookieDef, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--cookie-file: %w", err)
	}
	defer f.Close()
	var out []scenarios.CookieDef
	sc := bufio.NewScanner(io.LimitReader(f, scenarios.MaxPolicySize))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		httpOnly := false
		if rest, ok := strings.CutPrefix(text, "#HttpOnly_"); ok {
			text, httpOnly = rest, true
		}
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != 7 {
			return nil, fmt.Errorf("%s:%d: want 7 tab-separated fields (domain, subdomains, path, secure, expiry, name, value), got %d", path, line, len(fields))
		}
		secure := strings.EqualFold(fields[3], "TRUE")
		c := scenarios.CookieDef{Domain: fields[0], Path: fields[2], Secure: &secure, HTTPOnly: httpOnly, Name: fields[5], Value: fields[6]}
		if c.Name == "" {
			return nil, fmt.Errorf("%s:%d: a cookie without a name", path, line)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--cookie-file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--cookie-file %s: no cookies in it (Netscape format: domain<TAB>TRUE<TAB>/<TAB>TRUE<TAB>0<TAB>name<TAB>value)", path)
	}
	return out, nil
}
