package scenarios

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Outcome is what the browser did with one fetch: the page could read the
// response, CORS stopped it, or it never got a verdict (network error,
// timeout, a browser rule unrelated to the server's CORS policy).
type Outcome int

const (
	// Allowed means the fetch promise resolved: the page could read the response.
	Allowed Outcome = iota + 1
	// Blocked means Chrome refused the response or the preflight for a CORS reason.
	Blocked
	// Errored means there is no CORS verdict: refused connection, timeout,
	// Local Network Access, mixed content, a crashed browser.
	Errored
)

var outcomeNames = map[Outcome]string{Allowed: "allowed", Blocked: "blocked", Errored: "error"}

// String returns the contract spelling used in JSON: allowed, blocked, error.
func (o Outcome) String() string {
	if s, ok := outcomeNames[o]; ok {
		return s
	}
	return "unknown"
}

// MarshalJSON writes the contract spelling; a case that was never observed
// (skipped) has the empty string.
func (o Outcome) MarshalJSON() ([]byte, error) {
	if o == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(o.String())
}

// UnmarshalJSON reads the contract spelling; anything else is an error so a
// results file from a future schema is not silently misread.
func (o *Outcome) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		*o = 0
		return nil
	}
	for k, v := range outcomeNames {
		if v == s {
			*o = k
			return nil
		}
	}
	return fmt.Errorf("unknown outcome %q (want allowed, blocked or error)", s)
}

// CorsError is Chrome's corsError value, kept verbatim. It is a string, not
// cdproto's enum, because Chrome adds values faster than cdproto learns them
// and an unknown value must never lose an observation.
type CorsError string

// IsPreflight reports whether Chrome blamed the preflight rather than the
// actual response.
func (e CorsError) IsPreflight() bool {
	return strings.HasPrefix(string(e), "Preflight") ||
		e == "MethodDisallowedByPreflightResponse" ||
		e == "HeaderDisallowedByPreflightResponse" ||
		e == "InvalidAllowMethodsPreflightResponse" ||
		e == "InvalidAllowHeadersPreflightResponse"
}

// IsLocalNetworkAccess reports whether the error comes from Chrome's Local
// Network Access rules, which say nothing about the server's CORS policy.
func (e CorsError) IsLocalNetworkAccess() bool {
	switch e {
	case "LocalNetworkAccessPermissionDenied", "InsecureLocalNetwork", "InvalidLocalNetworkAccess",
		"InsecurePrivateNetwork", "InvalidPrivateNetworkAccess", "UnexpectedPrivateNetworkAccess",
		"PreflightMissingAllowPrivateNetwork", "PreflightInvalidAllowPrivateNetwork",
		"PrivateNetworkAccessPermissionDenied", "PrivateNetworkAccessPermissionUnavailable",
		"PreflightMissingPrivateNetworkAccessId", "PreflightMissingPrivateNetworkAccessName",
		"PreflightMissingAllowLocalNetwork", "PreflightInvalidAllowLocalNetwork":
		return true
	}
	return false
}

// Credentials is the fetch() credentials mode.
type Credentials string

// The three fetch() credentials modes.
const (
	CredentialsOmit       Credentials = "omit"
	CredentialsSameOrigin Credentials = "same-origin"
	CredentialsInclude    Credentials = "include"
)

// ParseCredentials accepts exactly the fetch() spellings.
func ParseCredentials(s string) (Credentials, error) {
	switch c := Credentials(s); c {
	case CredentialsOmit, CredentialsSameOrigin, CredentialsInclude:
		return c, nil
	}
	return "", fmt.Errorf("unknown credentials mode %q: use omit, same-origin or include", s)
}

// Request is one fetch() as the page issues it.
type Request struct {
	URL         string            `json:"url"`
	Origin      string            `json:"origin"`
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers"`
	Credentials Credentials       `json:"credentials"`
}

// HeaderNames returns the request's header names, sorted, as written.
func (r Request) HeaderNames() []string {
	names := make([]string, 0, len(r.Headers))
	for n := range r.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Exchange is a preflight as it crossed the wire.
type Exchange struct {
	Status          int               `json:"status"`
	RequestHeaders  map[string]string `json:"requestHeaders"`
	ResponseHeaders map[string]string `json:"responseHeaders"`
}

// Response is the actual request's response as it crossed the wire, also
// when Chrome then refused to hand it to the page.
type Response struct {
	Status         int               `json:"status"`
	Headers        map[string]string `json:"headers"`
	RequestHeaders map[string]string `json:"requestHeaders,omitempty"`
}

// Header returns a response header by case-insensitive name.
func (r *Response) Header(name string) (string, bool) {
	if r == nil {
		return "", false
	}
	return lookup(r.Headers, name)
}

// ResponseHeader returns a preflight response header by case-insensitive name.
func (e *Exchange) ResponseHeader(name string) (string, bool) {
	if e == nil {
		return "", false
	}
	return lookup(e.ResponseHeaders, name)
}

func lookup(h map[string]string, name string) (string, bool) {
	if v, ok := h[name]; ok {
		return v, true
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// ErrorKind says why an Errored observation has no CORS verdict.
type ErrorKind string

// Kinds of Errored observations.
const (
	ErrorNetwork            ErrorKind = "network"
	ErrorTimeout            ErrorKind = "timeout"
	ErrorLocalNetworkAccess ErrorKind = "local-network-access"
	ErrorMixedContent       ErrorKind = "mixed-content"
	ErrorBrowser            ErrorKind = "browser"
	// ErrorNotRun marks fetches corscheck did not send because the target
	// had stopped answering.
	ErrorNotRun ErrorKind = "not-run"
)

// Observation is what Chrome did with one fetch, built from DevTools events.
// Its JSON form is the `corscheck probe --json` contract.
type Observation struct {
	Request         Request            `json:"request"`
	Outcome         Outcome            `json:"outcome"`
	CorsError       CorsError          `json:"corsError"`
	FailedParameter string             `json:"failedParameter"`
	Error           string             `json:"error"`
	ErrorKind       ErrorKind          `json:"errorKind,omitempty"`
	Preflight       *Exchange          `json:"preflight"`
	Response        *Response          `json:"response"`
	ReadableHeaders map[string]*string `json:"readableHeaders"`
	// ReadableNames lists every response header name script could read.
	ReadableNames []string `json:"readableHeaderNames,omitempty"`
	DurationMs    float64  `json:"durationMs"`
	Browser       string   `json:"browser"`
	// ConsoleMessage is Chrome's own console sentence for a blocked fetch.
	ConsoleMessage string `json:"consoleMessage,omitempty"`
	// NetError is Chrome's net error text (net::ERR_...) when there was one.
	NetError string `json:"netError,omitempty"`
}
