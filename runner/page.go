package runner

import (
	"errors"
)

// ErrRendererCrashed marks probes lost to a crashed tab: never the server's fault.
var ErrRendererCrashed = errors.New("the browser tab crashed")

// PageSetup is what every origin page gets before its probes run.
type PageSetup struct {
	// Cookies are put in the page's own cookie jar (its browser context).
	Cookies []CookieSpec
	// IgnoreCertErrors makes the tab accept any certificate (--insecure on
	// an attached browser).
	IgnoreCertErrors bool
}

// CookieSpec is a cookie to set in the browser's jar for a URL.
type CookieSpec struct {
	Name, Value string
	// URL the cookie belongs to (its host, scheme and default path).
	URL      string
	Domain   string
	Path     string
	Secure   bool
	HTTPOnly bool
	// SameSite is Strict, Lax, None, or empty for the browser's default.
	SameSite string
}
