package core

import (
	"strings"

	"github.com/corscheck/corscheck/scenarios"
)

// RefusedBeforeRequest classifies a fetch the browser refused before it
// sent anything: by the request's mode or scheme (Chrome's own corsError
// names), or for another reason (an error).
func RefusedBeforeRequest(ob *scenarios.Observation, jsErr string, console []string) {
	msg := ""
	if len(console) > 0 {
		msg = console[0]
	}
	switch {
	case strings.Contains(msg, `Request mode is "same-origin"`):
		ob.Outcome, ob.CorsError, ob.ConsoleMessage = scenarios.Blocked, "DisallowedByMode", msg
	case strings.Contains(msg, "URL scheme") || strings.Contains(msg, "scheme must be"):
		ob.Outcome, ob.CorsError, ob.ConsoleMessage = scenarios.Blocked, "CorsDisabledScheme", msg
	default:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorBrowser
		ob.Error = "fetch failed before any request was sent: " + jsErr
		if msg != "" {
			ob.Error += " (" + msg + ")"
		}
	}
}

// NetErrorKind sorts Chrome's net error text into the kinds a user fixes
// differently: a certificate, a name, a refused port, or the network.
func NetErrorKind(text string) scenarios.ErrorKind {
	switch {
	case strings.HasPrefix(text, "net::ERR_CERT_"), strings.HasPrefix(text, "net::ERR_SSL_"),
		text == "net::ERR_BAD_SSL_CLIENT_AUTH_CERT", text == "net::ERR_CERTIFICATE_TRANSPARENCY_REQUIRED":
		return scenarios.ErrorTLS
	case text == "net::ERR_NAME_NOT_RESOLVED", text == "net::ERR_NAME_RESOLUTION_FAILED":
		return scenarios.ErrorDNS
	case text == "net::ERR_UNSAFE_PORT":
		return scenarios.ErrorUnsafePort
	}
	return scenarios.ErrorNetwork
}
