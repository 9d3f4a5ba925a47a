// Command corscheck asks a real browser whether a server's CORS behaviour
// matches the policy its team declared.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/corscheck/corscheck/scenarios"
)

// version is set with -ldflags "-X main.version=..." (make release);
// otherwise it is the module version Go stamped into the binary: the tag
// for `go install ...@v1.2.3`, a pseudo-version for a build from a clone.
var version = ""

// buildInfo is what the binary knows about how it was built.
type buildInfo struct {
	Version  string // module version, or "dev"
	Revision string // VCS commit
	Time     string // commit time
	Modified bool   // built from a work tree with uncommitted changes
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// String is the version line: "v0.3.0 (abc123def456, 2026-11-29T21:04:06Z)".
func (b buildInfo) String() string {
	var extra []string
	if b.Revision != "" {
		extra = append(extra, shortRev(b.Revision))
	}
	if b.Time != "" {
		extra = append(extra, b.Time)
	}
	if b.Modified {
		extra = append(extra, "modified")
	}
	if len(extra) == 0 {
		return b.Version
	}
	return b.Version + " (" + strings.Join(extra, ", ") + ")"
}

func shortRev(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}

func toolVersion() string { return readBuildInfo().String() }

const usage = `corscheck: CORS conformance, decided by a real browser.

Usage:
  corscheck run     [--policy FILE] [--target URL] [--out DIR] [--label-filter EXPR] [--focus REGEX] [--shard K/N] ...
  corscheck probe   URL --origin ORIGIN [--method M] [--header 'Name: value']... [--credentials MODE] [--json]
  corscheck fixtures list
  corscheck fixtures serve NAME [--addr HOST:PORT]
  corscheck report  RESULTS.json [-o report.html]
  corscheck diff    OLD.json NEW.json [--format text|markdown|github] [--allow-removed] [--html FILE] [--markdown FILE]
  corscheck compat  --policy FILE NAME=URL... [--out DIR]   (URL may be fixture:NAME)
  corscheck merge   --out DIR SHARD_DIR...                  (the outputs of run --shard 1/N ... N/N)
  corscheck version

Exit status: 0 success (allowed / every case passed), 1 blocked / a case failed,
2 usage, policy or environment error. Run "corscheck COMMAND -h" for flags.
`

// exitInterrupted is the exit status after Ctrl-C (SIGINT) or SIGTERM,
// as shells report a command a signal stopped (128 + SIGINT): never 1, which
// says the CORS policy failed.
const exitInterrupted = 130

// exitError carries an exit status up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func usageErr(format string, a ...any) error {
	return &exitError{2, fmt.Errorf(format, a...)}
}

func main() {
	softMemoryLimit()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultMemoryLimit is the heap size past which Go's collector works
// harder instead of letting the heap double (its default): a run at the
// list limits (40,000 cases) holds about 290 MB live at its peak and
// otherwise reached 650 MB resident. Smaller runs never get near it.
const defaultMemoryLimit = 384 << 20

// softMemoryLimit applies defaultMemoryLimit unless GOMEMLIMIT says
// otherwise (GOMEMLIMIT=off lifts it).
func softMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stdout, stderr)
	case "probe":
		err = cmdProbe(args[1:], stdout, stderr)
	case "fixtures":
		err = cmdFixtures(args[1:], stdout, stderr)
	case "report":
		err = cmdReport(args[1:], stdout, stderr)
	case "diff":
		err = cmdDiff(args[1:], stdout, stderr)
	case "compat":
		err = cmdCompat(args[1:], stdout, stderr)
	case "merge":
		err = cmdMerge(args[1:], stdout, stderr)
	case "version", "--version":
		b := readBuildInfo()
		fmt.Fprintln(stdout, "corscheck", b)
		if b.Version == "dev" && b.Revision == "" {
			fmt.Fprintln(stdout, "(built without version information: build with `make build`, `go install github.com/corscheck/corscheck/cmd/corscheck@VERSION`, or -buildvcs=true from a clone)")
		}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageErr("unknown command %q; commands: run, probe, fixtures, report, diff, compat, merge, version", args[0])
	}
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "corscheck:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "corscheck:", err)
	return 2
}

// newFlagSet is a FlagSet for a command: parse errors come back as one
// line (parseInterleaved), never as the whole usage text.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseInterleaved parses flags that may come before or after positional
// arguments (`probe URL --origin O` and `probe --origin O URL` both work).
// A bad flag is a usage error of one line that names the nearest flag or
// the fix; -h prints the command's usage.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	usage := fs.Usage
	fs.Usage = func() {}
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(flags)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case err == flag.ErrHelp:
		if usage != nil {
			usage()
		} else {
			fs.PrintDefaults()
		}
		return nil, &exitError{0, nil}
	case err != nil:
		return nil, &exitError{2, flagError(fs, err)}
	}
	return positional, nil
}

// flagError turns the flag package's error into one line with the fix.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		hint := ""
		if best := nearest(name, names); best != "" {
			hint = fmt.Sprintf("; did you mean --%s?", best)
		}
		return fmt.Errorf("%s: unknown flag --%s%s (corscheck %s -h lists the flags)", fs.Name(), scenarios.Visible(name), hint, fs.Name())
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "10" for flag -timeout: parse error
		value, after, _ := strings.Cut(rest, " for flag -")
		name, why, _ := strings.Cut(after, ": ")
		if f := fs.Lookup(name); f != nil {
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isDuration := g.Get().(time.Duration); isDuration {
					v := strings.Trim(value, `"`)
					return fmt.Errorf("--%s %s: a duration needs a unit, e.g. --%s %ss or --%s 500ms", name, scenarios.Visible(v), name, scenarios.Visible(v), name)
				}
			}
		}
		if strings.HasPrefix(why, "--"+name) {
			return errors.New(scenarios.Visible(why)) // the flag's own message names it already
		}
		return fmt.Errorf("--%s %s: %s", name, scenarios.Visible(strings.Trim(value, `"`)), scenarios.Visible(why))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("--%s needs a value (corscheck %s -h)", scenarios.Visible(name), fs.Name())
	}
	return errors.New(scenarios.Visible(msg))
}

// nearest is the candidate closest to s by edit distance (at most 3), or
// else one that s starts, or that starts with s.
func nearest(s string, candidates []string) string {
	if best := scenarios.Closest(s, candidates); best != "" {
		return best
	}
	for _, c := range candidates {
		if strings.HasPrefix(c, s) || strings.HasPrefix(s, c) {
			return c
		}
	}
	return ""
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
