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

// Request is one fetch() as the page issues it. The first five fields are
// the contract; the others are fetch() options, empty for their defaults
// (mode cors, redirect follow, the page's referrer policy, no body).
type Request struct {
	URL         string            `json:"url"`
	Origin      string            `json:"origin"`
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers"`
	Credentials Credentials       `json:"credentials"`
	// Mode is the fetch() mode: cors (default), no-cors or same-origin.
	Mode string `json:"mode,omitempty"`
	// Redirect is the redirect mode: follow (default), manual or error.
	Redirect string `json:"redirect,omitempty"`
	// ReferrerPolicy is the fetch() referrerPolicy, when set.
	ReferrerPolicy string `json:"referrerPolicy,omitempty"`
	// Body is the request body, when there is one.
	Body string `json:"body,omitempty"`
}

// Fetch modes and redirect modes, as fetch() spells them.
var (
	Modes         = []string{"cors", "no-cors", "same-origin"}
	RedirectModes = []string{"follow", "manual", "error"}
	// ReferrerPolicies are the values fetch() accepts for referrerPolicy.
	ReferrerPolicies = []string{"no-referrer", "no-referrer-when-downgrade", "same-origin", "origin",
		"strict-origin", "origin-when-cross-origin", "strict-origin-when-cross-origin", "unsafe-url"}
)

// ModeOrDefault is the request's fetch() mode, "cors" when unset.
func (r Request) ModeOrDefault() string {
	if r.Mode == "" {
		return "cors"
	}
	return r.Mode
}

// RedirectOrDefault is the request's redirect mode, "follow" when unset.
func (r Request) RedirectOrDefault() string {
	if r.Redirect == "" {
		return "follow"
	}
	return r.Redirect
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
	// URL is the URL that answered, when a redirect led away from the
	// request's URL.
	URL string `json:"url,omitempty"`
}

// Hop is one redirect the actual request followed: the request to URL and
// the 3xx answer that sent it on.
type Hop struct {
	URL             string            `json:"url"`
	Status          int               `json:"status"`
	RequestHeaders  map[string]string `json:"requestHeaders"`
	ResponseHeaders map[string]string `json:"responseHeaders"`
}

// Location is the hop's redirect target as the server wrote it.
func (h Hop) Location() string { v, _ := lookup(h.ResponseHeaders, "location"); return v }

// OriginSent is the Origin header the browser sent on this hop ("" when none).
func (h Hop) OriginSent() string { v, _ := lookup(h.RequestHeaders, "origin"); return v }

// Body says what happened to a response body the page did not need: it is
// read and discarded (never buffered) up to a cap, so a huge body cannot
// exhaust the browser's memory. It never changes the CORS verdict.
type Body struct {
	// Bytes read before the body ended, failed, hit the cap or timed out.
	Bytes int64 `json:"bytes"`
	// Complete is true when the whole body arrived.
	Complete bool `json:"complete"`
	// Capped is true when corscheck stopped reading at its cap.
	Capped bool `json:"capped,omitempty"`
	// Error says why an incomplete body ended (a reset connection, a timeout).
	Error string `json:"error,omitempty"`
}

// Cookie is one cookie the browser considered for a credentialed request.
type Cookie struct {
	Name string `json:"name"`
	// Blocked lists the browser's reasons for not sending it (SameSiteLax,
	// SecureOnly, ThirdPartyPhaseout, ...); empty when it was sent.
	Blocked []string `json:"blocked,omitempty"`
}

// Sent reports whether the browser attached the cookie.
func (c Cookie) Sent() bool { return len(c.Blocked) == 0 }

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
	// ErrorTLS: the browser refused the target's certificate.
	ErrorTLS ErrorKind = "tls"
	// ErrorDNS: the target's host name did not resolve.
	ErrorDNS ErrorKind = "dns"
	// ErrorUnsafePort: the browser refuses to connect to the target's port.
	ErrorUnsafePort ErrorKind = "unsafe-port"
	// ErrorRedirectMode: the page asked fetch() to fail on redirects
	// (redirect: "error") and the server redirected.
	ErrorRedirectMode ErrorKind = "redirect-mode"
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
	// Engine is the browser engine: chrome or firefox.
	Engine string `json:"engine,omitempty"`
	// BrowserReason is the engine's own words for a block when they are not
	// Chrome's (Firefox's message key and console text).
	BrowserReason string `json:"browserReason,omitempty"`
	// Redirects are the hops the actual request was redirected through.
	Redirects []Hop `json:"redirects,omitempty"`
	// Preflights counts the preflights this fetch caused (one per
	// cross-origin hop that needed one); 0 when served from the cache.
	Preflights int `json:"preflights,omitempty"`
	// ResponseType is the fetch() response type script saw (cors, basic,
	// opaque, opaqueredirect) when the promise resolved.
	ResponseType string `json:"responseType,omitempty"`
	// Body is what happened to the actual response's body.
	Body *Body `json:"body,omitempty"`
	// Cookies are the cookies the browser considered for the actual
	// request: sent, or blocked with its reasons.
	Cookies []Cookie `json:"cookies,omitempty"`
	// Resampled says why this is a second sample: a first one of this
	// case failed on something that can depend on timing (the preflight
	// cache), and one sample never fails a case.
	Resampled string `json:"resampled,omitempty"`
}
