package scenarios

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// closest returns the candidate within edit distance 3 of s, if any.
func Closest(s string, candidates []string) string {
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

// forbiddenHostChars are the characters Chrome refuses in a host (the URL
// Standard's forbidden host code points, and % which it would decode).
const forbiddenHostChars = " #%/:<>?@[\\]^|\t\r\n"

// CheckOrigin validates a serialised origin as a browser sends it in Origin:
// scheme://host[:port] with no path, no trailing slash and no default port,
// or "null". Every host Chrome accepts is accepted, including characters
// such as _ ! $ ' ( ) * + , ; = ~ ` { } that attackers use against loose
// origin parsers. The error says what to write instead.
func CheckOrigin(s string) error {
	if s == "null" {
		return nil
	}
	if s == "*" {
		return errors.New(`"*" is not an origin; give one origin such as https://app.example.com`)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return fmt.Errorf("%q has no scheme; write https://%s", Visible(s), Visible(strings.TrimSuffix(s, "/")))
	}
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", Visible(s))
	}
	hostport := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		hostport = rest[:i]
		want := scheme + "://" + strings.ToLower(hostport)
		msg := "an origin has no path"
		if rest[i:] == "/" {
			msg = "an origin has no trailing slash"
		}
		return fmt.Errorf("%q: %s; write %s", Visible(s), msg, Visible(want))
	}
	if at := strings.LastIndexByte(hostport, '@'); at >= 0 {
		return fmt.Errorf("%q: an origin has no user info; write %s", Visible(s), Visible(scheme+"://"+hostport[at+1:]))
	}
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 || net.ParseIP(hostport[1:end]) == nil {
			return fmt.Errorf("%q: an IPv6 host is written [::1]", Visible(s))
		}
		host, port = hostport[:end+1], strings.TrimPrefix(hostport[end+1:], ":")
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i+1:]
	}
	if host == "" {
		return fmt.Errorf("%q has no host; write e.g. https://app.example.com", Visible(s))
	}
	if len(host) > maxHostLen {
		return fmt.Errorf("%q: a host of %d characters; at most %d", Visible(s[:min(len(s), 40)]+"..."), len(host), maxHostLen)
	}
	if !strings.HasPrefix(host, "[") {
		for _, r := range host {
			if r > 127 {
				return fmt.Errorf("%q: browsers send internationalised hosts in their ASCII (punycode) form, xn--...", Visible(s))
			}
			if strings.ContainsRune(forbiddenHostChars, r) || r < 0x20 || r == 0x7f {
				return fmt.Errorf("%q: %q cannot appear in a host; browsers cannot have this origin", Visible(s), Visible(string(r)))
			}
		}
		for _, label := range strings.Split(host, ".") {
			if len(label) > maxLabelLen {
				return fmt.Errorf("%q: a host label of %d characters; at most %d", Visible(s[:min(len(s), 40)]+"..."), len(label), maxLabelLen)
			}
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port must be 1-65535", Visible(s))
		}
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			return fmt.Errorf("%q: browsers omit the default port; write %s", Visible(s), Visible(scheme+"://"+strings.ToLower(host)))
		}
		if strconv.Itoa(n) != port {
			return fmt.Errorf("%q: write the port without leading zeros", Visible(s))
		}
	}
	if want := scheme + "://" + strings.ToLower(hostport); s != want {
		return fmt.Errorf("%q: browsers send origins in lower case; write %s", Visible(s), Visible(want))
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

// CheckRequestHeader refuses header names a page cannot set (Cookie, Host,
// Sec-*, ...) and invalid names, saying why.
func CheckRequestHeader(h string) error {
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
		return fmt.Errorf("%q: a path starts with /, as in /v1/items", Visible(p))
	}
	if len(p) > maxPathLen {
		return fmt.Errorf("a path of %d characters; at most %d", len(p), maxPathLen)
	}
	if strings.ContainsAny(p, " #?") {
		return fmt.Errorf("%q: a path has no spaces, query or fragment", Visible(p))
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || isBidiControl(r) {
			return fmt.Errorf("%q: a control character in a path", Visible(p))
		}
	}
	if i := strings.IndexByte(p, '*'); i >= 0 && !(i == len(p)-1 && strings.HasSuffix(p, "/*")) {
		return fmt.Errorf("%q: * may only end a path pattern, as in /v1/admin/*", Visible(p))
	}
	if strings.Count(p, "{") != strings.Count(p, "}") {
		return fmt.Errorf("%q: unbalanced { } in a path parameter", Visible(p))
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
