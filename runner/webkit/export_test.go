package webkit

import (
	"net/http"

	"github.com/corscheck/corscheck/runner/internal/core"
)

// LaunchDriverForTest starts Xvfb and a WebKitWebDriver the way someone
// else would for --browser-url: the driver's address and a stop.
func LaunchDriverForTest() (endpoint string, pid int, stop func(), err error) {
	driver, err := FindDriver("")
	if err != nil {
		return "", 0, nil, err
	}
	xvfb, err := core.FindBinary("Xvfb", "", "XVFB_PATH", []string{"Xvfb", "/usr/bin/Xvfb"}, InstallHint)
	if err != nil {
		return "", 0, nil, err
	}
	b := &WebKit{client: &http.Client{}, exited: make(chan struct{})}
	if _, err := b.startDriver(xvfb, driver); err != nil {
		b.kill()
		return "", 0, nil, err
	}
	return b.driverURL, b.driver.Process.Pid, b.kill, nil
}
