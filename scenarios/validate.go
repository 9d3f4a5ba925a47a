package scenarios

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// closest returns the candidate within edit distance 3 of s, if any.
func closest(s string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// CheckOrigin validates a serialised origin as a browser sends it in Origin:
// scheme://host[:port] with no path, no trailing slash and no default port,
// or "null". The error says what to write instead.
func CheckOrigin(s string) error {
	if s == "null" {
		return nil
	}
	if s == "*" {
		return errors.New(`"*" is not an origin; give one origin such as https://app.example.com`)
	}
	if !strings.Contains(s, "://") {
		return fmt.Errorf("%q has no scheme; write https://%s", s, strings.TrimSuffix(s, "/"))
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not an origin: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%q has no host; write e.g. https://app.example.com", s)
	}
	want := u.Scheme + "://" + strings.ToLower(u.Host)
	if u.User != nil {
		return fmt.Errorf("%q: an origin has no user info; write %s", s, u.Scheme+"://"+strings.ToLower(u.Host))
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		msg := "an origin has no path"
		if u.Path == "/" && u.RawQuery == "" {
			msg = "an origin has no trailing slash"
		}
		return fmt.Errorf("%q: %s; write %s", s, msg, want)
	}
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		return fmt.Errorf("%q: browsers omit the default port; write %s", s, u.Scheme+"://"+strings.ToLower(u.Hostname()))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port must be 1-65535", s)
		}
	}
	if s != want {
		return fmt.Errorf("%q: browsers send origins in lower case; write %s", s, want)
	}
	return nil
}

// checkPolicyOrigin accepts an origin, and in allow lists also "*" and a
// leading-label pattern like https://*.example.com.
func checkPolicyOrigin(s string, allowPatterns bool) error {
	if allowPatterns && s == "*" {
		return nil
	}
	if allowPatterns && strings.Contains(s, "*") {
		scheme, rest, ok := strings.Cut(s, "://*.")
		if !ok || strings.Contains(rest, "*") || rest == "" {
			return fmt.Errorf("%q: a pattern may only put * as the whole first label, as in https://*.example.com", s)
		}
		return CheckOrigin(scheme + "://" + rest)
	}
	return CheckOrigin(s)
}

// Safelisted methods never need a preflight.
var safelistedMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true}

// normalizedMethods are the methods fetch() upper-cases; all others are sent as written.
var normalizedMethods = map[string]bool{"DELETE": true, "GET": true, "HEAD": true, "OPTIONS": true, "POST": true, "PUT": true}

func checkMethod(m string) error {
	if err := checkToken("method", m, false); err != nil {
		return err
	}
	switch strings.ToUpper(m) {
	case "CONNECT", "TRACE", "TRACK":
		return fmt.Errorf("%s is a forbidden method: browsers refuse to send it, so it cannot be allowed or tested", strings.ToUpper(m))
	}
	if m != strings.ToUpper(m) {
		return fmt.Errorf("%q: Access-Control-Allow-Methods is case-sensitive and clients send methods upper-case; write %s", m, strings.ToUpper(m))
	}
	return nil
}

// forbiddenRequestHeaders cannot be set by script, so no policy can allow them.
var forbiddenRequestHeaders = map[string]bool{
	"accept-charset": true, "accept-encoding": true, "access-control-request-headers": true,
	"access-control-request-method": true, "connection": true, "content-length": true, "cookie": true,
	"cookie2": true, "date": true, "dnt": true, "expect": true, "host": true, "keep-alive": true,
	"origin": true, "referer": true, "te": true, "trailer": true, "transfer-encoding": true,
	"upgrade": true, "via": true, "set-cookie": true,
}

func checkRequestHeader(h string) error {
	if h == "*" {
		return nil
	}
	if err := checkToken("header name", h, false); err != nil {
		return err
	}
	l := strings.ToLower(h)
	if forbiddenRequestHeaders[l] || strings.HasPrefix(l, "proxy-") || strings.HasPrefix(l, "sec-") {
		return fmt.Errorf("%q is a forbidden request header: script cannot set it, so it needs no CORS permission; remove it", h)
	}
	return nil
}

func checkToken(what, s string, allowStar bool) error {
	if allowStar && s == "*" {
		return nil
	}
	if s == "" {
		return fmt.Errorf("empty %s", what)
	}
	for _, r := range s {
		if r > 127 || !isTokenChar(byte(r)) {
			return fmt.Errorf("%q is not a valid %s (letters, digits and !#$%%&'*+-.^_`|~ only, no spaces or commas: one per entry)", s, what)
		}
	}
	return nil
}

func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q: a path starts with /, as in /v1/items", p)
	}
	if strings.ContainsAny(p, " #") {
		return fmt.Errorf("%q: a path has no spaces or fragment", p)
	}
	return nil
}

// CheckTargetURL validates a target URL: absolute http or https with a host.
func CheckTargetURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || !strings.Contains(s, "://") {
		return fmt.Errorf("%q is not an absolute URL; write e.g. http://127.0.0.1:8080/api", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", s)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.User != nil {
		return fmt.Errorf("%q: put no credentials in the URL; browsers refuse fetch() URLs with user info", s)
	}
	return nil
}
