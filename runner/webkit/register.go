// Package webkit is the WebKit engine: WebKitGTK's MiniBrowser driven by
// WebKitWebDriver under Xvfb, its origin pages served by a loopback relay
// inside corscheck and its reasons read from the browser's inspector. With
// --browser-url it attaches to WebKitWebDrivers already running on this
// machine (several make a pool).
package webkit

import (
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
)

func init() {
	runner.Register(runner.Engine{
		Name:         runner.EngineWebKit,
		Order:        2,
		StartTimeout: runner.DefaultSlowStartTimeout,
		Find:         FindDriver,
		Attach:       true,
		Validate:     Validate,
		Start:        core.Attachable(runner.EngineWebKit, startWebKit),
	})
}
