package scenarios

// The protocol facts the diagnosis (findings, stacks) reads from here.

// IsSafelistedMethod reports whether browsers send a method without a
// preflight (GET, HEAD, POST).
func IsSafelistedMethod(m string) bool { return safelistedMethods[m] }

// IsSafelistedResponseHeader reports whether script may read a response
// header without Access-Control-Expose-Headers.
func IsSafelistedResponseHeader(name string) bool { return contains(safelistedResponseHeaders, name) }

// HeaderLookup finds a header by case-insensitive name.
func HeaderLookup(h map[string]string, name string) (string, bool) { return lookup(h, name) }

// HeaderValue is a header's value by case-insensitive name ("" when absent).
func HeaderValue(h map[string]string, name string) string { return headerValue(h, name) }

// OriginOf is the origin (scheme://host[:port]) of a URL.
func OriginOf(raw string) string { return originOf(raw) }

// CORSCheck is the Fetch CORS check of an answer in Chrome's order: the
// corsError (without the Preflight prefix) and the parameter Chrome names,
// "" when the answer passes. An engine whose reason is coarser than
// Chrome's (WebKit's "not allowed by Access-Control-Allow-Origin") names
// its block from the answer it refused with it.
func CORSCheck(origin string, include bool, h map[string]string) (CorsError, string) {
	return corsCheck(origin, include, h)
}
