// Package engines links every browser engine into a program: import it for
// its side effect, and runner.Start knows chrome, firefox and webkit.
//
//	import _ "github.com/corscheck/corscheck/runner/engines"
package engines

import (
	_ "github.com/corscheck/corscheck/runner/chrome"
	_ "github.com/corscheck/corscheck/runner/firefox"
	_ "github.com/corscheck/corscheck/runner/webkit"
)
