// Package webkit is the WebKit engine: WebKitGTK's MiniBrowser driven by
// WebKitWebDriver under Xvfb, its origin pages served by a loopback relay
// inside corscheck and its reasons read from the browser's inspector.
package webkit

import (
	"github.com/corscheck/corscheck/runner"
)

func init() {
	runner.Register(runner.Engine{
		Name:         runner.EngineWebKit,
		Order:        2,
		StartTimeout: runner.DefaultSlowStartTimeout,
		Find:         FindDriver,
		Validate:     Validate,
		Start:        startWebKit,
	})
}
