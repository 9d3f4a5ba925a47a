package firefox

import "github.com/corscheck/corscheck/runner"

// LaunchForTest starts a Firefox the way someone else would for
// --browser-url: its WebDriver BiDi address, its process and a stop.
func LaunchForTest(o runner.Options) (ws string, pid int, stop func(), err error) {
	path, err := Find("")
	if err != nil {
		return "", 0, nil, err
	}
	p, ws, err := launchFirefox(path, o)
	if err != nil {
		return "", 0, nil, err
	}
	return ws, p.cmd.Process.Pid, p.kill, nil
}
