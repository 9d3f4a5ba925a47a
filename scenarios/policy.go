package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxListLen bounds every list in a policy, so the matrix stays in the hundreds.
const MaxListLen = 32

// MaxPolicySize bounds a policy file: policies come from users and are untrusted.
const MaxPolicySize = 1 << 20

// Policy is the CORS policy a team declares: what a correct server allows.
// Its JSON form is what results.json records "as loaded".
type Policy struct {
	// Origins are allowed origins, exact (https://app.example.com), or a
	// subdomain pattern (https://*.example.com), or "*" (only without credentials).
	Origins []string `json:"origins"`
	// Methods are allowed methods, case-sensitive as browsers compare them.
	Methods []string `json:"methods"`
	// Headers are allowed request headers, case-insensitive.
	Headers []string `json:"headers"`
	// Credentials says whether credentialed requests must work.
	Credentials bool `json:"credentials"`
	// MaxAge is the preflight cache lifetime in seconds, if the server sets one.
	MaxAge *int `json:"maxAge,omitempty"`
	// ExposeHeaders are response headers script must be able to read.
	ExposeHeaders []string `json:"exposeHeaders,omitempty"`
	// Target is the URL to probe; --target overrides it.
	Target string `json:"target,omitempty"`
	// Paths are extra paths (relative to the target) probed with the same matrix.
	Paths []string `json:"paths,omitempty"`
	// RefuseOrigins are extra origins that must be refused.
	RefuseOrigins []string `json:"refuseOrigins,omitempty"`
	// Skip lists cases not to run, each with a reason.
	Skip []Skip `json:"skip,omitempty"`
}

// Skip names cases (an exact ID, or a prefix ending in "*") not to run, and why.
type Skip struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// PolicyError is a problem at a line of a policy file, with what to write instead.
type PolicyError struct {
	File string
	Line int
	Msg  string
}

func (e *PolicyError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// LoadPolicy reads and parses a policy file.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	buf := make([]byte, MaxPolicySize+1)
	n, _ := readFull(f, buf)
	if n > MaxPolicySize {
		return nil, &PolicyError{File: path, Msg: fmt.Sprintf("file is larger than %d bytes; a policy is a few lines", MaxPolicySize)}
	}
	return ParsePolicy(path, buf[:n])
}

func readFull(f *os.File, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// policyKeys lists every key a policy may have, for typo suggestions.
var policyKeys = []string{"origins", "methods", "headers", "credentials", "maxAge", "exposeHeaders", "target", "paths", "refuseOrigins", "skip"}

// ParsePolicy parses YAML (or JSON, which is YAML) strictly: unknown keys,
// wrong types, invalid origins, methods and header names, and contradictions
// are errors with the file and line, saying what to write instead.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, &PolicyError{File: name, Msg: fmt.Sprintf("file is larger than %d bytes; a policy is a few lines", MaxPolicySize)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &PolicyError{File: name, Msg: "empty policy: write at least `origins: [https://app.example.com]`"}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &PolicyError{File: name, Line: yamlErrLine(err), Msg: "not valid YAML or JSON: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 {
		return nil, &PolicyError{File: name, Msg: "empty policy: write at least `origins: [https://app.example.com]`"}
	}
	root := doc.Content[0]
	if err := noAliases(name, root, 0); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, &PolicyError{File: name, Line: root.Line, Msg: "a policy is a mapping of keys (origins:, methods:, ...), not a " + kindName(root)}
	}
	p := &Policy{}
	seen := map[string]bool{}
	perr := func(n *yaml.Node, format string, a ...any) error {
		return &PolicyError{File: name, Line: n.Line, Msg: fmt.Sprintf(format, a...)}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, perr(k, "key %q appears twice; keep one", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "origins":
			p.Origins, err = stringList(name, k.Value, v, func(n *yaml.Node) error { return checkPolicyOrigin(n.Value, true) })
		case "refuseOrigins":
			p.RefuseOrigins, err = stringList(name, k.Value, v, func(n *yaml.Node) error { return checkPolicyOrigin(n.Value, false) })
		case "methods":
			p.Methods, err = stringList(name, k.Value, v, func(n *yaml.Node) error { return checkMethod(n.Value) })
		case "headers":
			p.Headers, err = stringList(name, k.Value, v, func(n *yaml.Node) error { return checkRequestHeader(n.Value) })
		case "exposeHeaders":
			p.ExposeHeaders, err = stringList(name, k.Value, v, func(n *yaml.Node) error { return checkToken("header name", n.Value, true) })
		case "paths":
			p.Paths, err = stringList(name, k.Value, v, func(n *yaml.Node) error { return checkPath(n.Value) })
		case "credentials":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
				return nil, perr(v, "credentials: want true or false, got %s", describe(v))
			}
			p.Credentials = v.Value == "true"
		case "maxAge":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
				return nil, perr(v, "maxAge: want a whole number of seconds such as 600, got %s", describe(v))
			}
			n, convErr := strconv.Atoi(v.Value)
			if convErr != nil || n < 0 || n > 86400*365 {
				return nil, perr(v, "maxAge: want seconds between 0 and 86400 (Chrome caps at 7200), got %s", v.Value)
			}
			p.MaxAge = &n
		case "target":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
				return nil, perr(v, "target: want a URL such as https://staging.api.example.com/v1/items, got %s", describe(v))
			}
			if err := CheckTargetURL(v.Value); err != nil {
				return nil, perr(v, "target: %v", err)
			}
			p.Target = v.Value
		case "skip":
			p.Skip, err = skipList(name, v)
		default:
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := closest(k.Value, policyKeys); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return nil, perr(k, "%s (keys: %s)", msg, strings.Join(policyKeys, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	if !seen["origins"] || len(p.Origins) == 0 {
		return nil, &PolicyError{File: name, Line: root.Line, Msg: "no origins: add `origins: [https://app.example.com]` with the origins that must be allowed"}
	}
	if err := p.contradictions(name, root); err != nil {
		return nil, err
	}
	return p, nil
}

// contradictions rejects policies no browser can satisfy.
func (p *Policy) contradictions(name string, root *yaml.Node) error {
	if !p.Credentials {
		return nil
	}
	at := func(key string) int {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == key {
				return root.Content[i].Line
			}
		}
		return 0
	}
	why := "browsers never accept a wildcard on a credentialed request (Fetch Standard, CORS check); list the exact values, or set credentials: false"
	for key, list := range map[string][]string{"origins": p.Origins, "methods": p.Methods, "headers": p.Headers, "exposeHeaders": p.ExposeHeaders} {
		for _, v := range list {
			if v == "*" {
				return &PolicyError{File: name, Line: at(key), Msg: fmt.Sprintf("%s: [\"*\"] with credentials: true contradicts itself: %s", key, why)}
			}
		}
	}
	return nil
}

func stringList(file, key string, v *yaml.Node, check func(*yaml.Node) error) ([]string, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
		return nil, &PolicyError{File: file, Line: v.Line, Msg: fmt.Sprintf("%s: want a list, such as %s: [%s]", key, key, v.Value)}
	}
	if v.Kind != yaml.SequenceNode {
		return nil, &PolicyError{File: file, Line: v.Line, Msg: fmt.Sprintf("%s: want a list of strings, got %s", key, describe(v))}
	}
	if len(v.Content) > MaxListLen {
		return nil, &PolicyError{File: file, Line: v.Line, Msg: fmt.Sprintf("%s: %d entries; at most %d (the matrix grows with each)", key, len(v.Content), MaxListLen)}
	}
	out := make([]string, 0, len(v.Content))
	dup := map[string]bool{}
	for _, item := range v.Content {
		if item.Kind != yaml.ScalarNode || item.Tag != "!!str" {
			return nil, &PolicyError{File: file, Line: item.Line, Msg: fmt.Sprintf("%s: each entry must be a string, got %s", key, describe(item))}
		}
		if err := check(item); err != nil {
			return nil, &PolicyError{File: file, Line: item.Line, Msg: fmt.Sprintf("%s: %v", key, err)}
		}
		if dup[strings.ToLower(item.Value)] {
			return nil, &PolicyError{File: file, Line: item.Line, Msg: fmt.Sprintf("%s: %q is listed twice", key, item.Value)}
		}
		dup[strings.ToLower(item.Value)] = true
		out = append(out, item.Value)
	}
	return out, nil
}

func skipList(file string, v *yaml.Node) ([]Skip, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, &PolicyError{File: file, Line: v.Line, Msg: "skip: want a list of {id: CASE-ID, reason: WHY}"}
	}
	var out []Skip
	for _, item := range v.Content {
		if item.Kind != yaml.MappingNode {
			return nil, &PolicyError{File: file, Line: item.Line, Msg: "skip: each entry is {id: CASE-ID, reason: WHY}"}
		}
		var s Skip
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, val := item.Content[i], item.Content[i+1]
			if val.Kind != yaml.ScalarNode {
				return nil, &PolicyError{File: file, Line: val.Line, Msg: "skip: " + k.Value + " must be a string"}
			}
			switch k.Value {
			case "id":
				s.ID = val.Value
			case "reason":
				s.Reason = val.Value
			default:
				return nil, &PolicyError{File: file, Line: k.Line, Msg: fmt.Sprintf("skip: unknown key %q (keys: id, reason)", k.Value)}
			}
		}
		if s.ID == "" || strings.TrimSpace(s.Reason) == "" {
			return nil, &PolicyError{File: file, Line: item.Line, Msg: "skip: each entry needs an id and a reason, e.g. {id: preflight.delete.include, reason: \"DELETE is not deployed yet\"}"}
		}
		out = append(out, s)
	}
	return out, nil
}

// noAliases rejects anchors and aliases (the YAML-bomb vector) and deep nesting.
func noAliases(file string, n *yaml.Node, depth int) error {
	if depth > 16 {
		return &PolicyError{File: file, Line: n.Line, Msg: "nested too deep; a policy is a flat mapping of lists"}
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return &PolicyError{File: file, Line: n.Line, Msg: "YAML anchors and aliases (&, *) are not supported in a policy; write the values out"}
	}
	for _, c := range n.Content {
		if err := noAliases(file, c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	default:
		return "scalar"
	}
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		t := strings.TrimPrefix(n.Tag, "!!")
		return fmt.Sprintf("%s %q", t, n.Value)
	}
	return "a " + kindName(n)
}

func yamlErrLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return 0
	}
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		j := i + 5
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(s[i+5 : j])
		return n
	}
	return 0
}
