package firefox

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
)

// InstallHint is the one command that fixes a missing Firefox on Debian/Ubuntu.
const InstallHint = "apt-get install -y firefox-esr   (or pass --firefox PATH or FIREFOX_PATH)"

// firefoxCandidates are tried in order. The real binaries come first: a
// wrapper script would make the browser a grandchild that outlives us.
var firefoxCandidates = []string{
	"/usr/lib/firefox-esr/firefox-esr",
	"firefox-esr",
	"/usr/lib/firefox/firefox",
	"firefox",
	"/Applications/Firefox.app/Contents/MacOS/firefox",
}

// Find returns the Firefox binary: explicit path, FIREFOX_PATH, then
// the usual names and install paths.
func Find(explicit string) (string, error) {
	return core.FindBinary("Firefox", explicit, "FIREFOX_PATH", firefoxCandidates, InstallHint)
}

// Prefs are the preferences of a profile corscheck starts. They
// keep verdicts about the target's CORS policy (Local Network Access off,
// like Chrome's flag) and, with LoopbackOnly, keep every connection on the
// machine: Firefox otherwise resolves and contacts Mozilla and Google hosts
// on its own (Remote Settings, add-on and media-plugin updates, safe
// browsing, telemetry, captive-portal and connectivity checks).
func Prefs(o runner.Options) map[string]any {
	p := map[string]any{
		// Quiet: nothing Firefox would fetch for itself.
		"app.normandy.enabled":                            false,
		"app.shield.optoutstudies.enabled":                false,
		"app.update.auto":                                 false,
		"app.update.checkInstallTime":                     false,
		"browser.region.network.url":                      "",
		"browser.region.update.enabled":                   false,
		"browser.safebrowsing.blockedURIs.enabled":        false,
		"browser.safebrowsing.downloads.enabled":          false,
		"browser.safebrowsing.malware.enabled":            false,
		"browser.safebrowsing.phishing.enabled":           false,
		"browser.safebrowsing.provider.mozilla.updateURL": "",
		"browser.search.update":                           false,
		"browser.shell.checkDefaultBrowser":               false,
		"browser.startup.page":                            0,
		"browser.newtabpage.enabled":                      false,
		"browser.topsites.contile.enabled":                false,
		"browser.cache.disk.enable":                       false,
		"browser.sessionstore.resume_from_crash":          false,
		"datareporting.healthreport.uploadEnabled":        false,
		"datareporting.policy.dataSubmissionEnabled":      false,
		"dom.push.connection.enabled":                     false,
		"extensions.getAddons.cache.enabled":              false,
		"extensions.update.enabled":                       false,
		"extensions.blocklist.enabled":                    false,
		"media.gmp-manager.url":                           "",
		"media.gmp-provider.enabled":                      false,
		"media.gmp-gmpopenh264.enabled":                   false,
		"media.gmp-widevinecdm.enabled":                   false,
		"network.captive-portal-service.enabled":          false,
		"network.connectivity-service.enabled":            false,
		"network.dns.disablePrefetch":                     true,
		"network.prefetch-next":                           false,
		"network.http.speculative-parallel-limit":         0,
		"network.trr.mode":                                5,
		"security.OCSP.enabled":                           0,
		"security.remote_settings.crlite_filters.enabled": false,
		"services.settings.server":                        "http://127.0.0.1:9/v1",
		"toolkit.telemetry.enabled":                       false,
		"toolkit.telemetry.unified":                       false,
		"toolkit.telemetry.server":                        "",
		"intl.locale.requested":                           "en-US",
		// A fetch answered 401 with WWW-Authenticate would open a login
		// dialog nobody answers (headless) and hang until the timeout;
		// the page gets the 401, as in Chrome.
		"network.auth.subresource-http-auth-allow": 0,
		// Console messages in English: the reasons are read from them.
		"intl.accept_languages": "en-US, en",
	}
	if !o.LocalNetworkAccess {
		p["network.lna.enabled"] = false
	}
	// Firefox's default (5) is Total Cookie Protection: a cookie is kept
	// per top-level site, so a cross-site page's fetch carries none.
	switch o.CookieMode {
	case runner.CookieModeBlock:
		p["network.cookie.cookieBehavior"] = 1
	case runner.CookieModeAllow:
		p["network.cookie.cookieBehavior"] = 0
	}
	if o.Insecure {
		p["network.stricttransportsecurity.preloadlist"] = false
	}
	if o.LoopbackOnly {
		// Every name resolves to loopback, and every request that is not
		// for loopback, a --resolve name or an allowed host goes to a proxy
		// that does not exist: nothing leaves the machine.
		p["network.dns.native-is-localhost"] = true
		p["network.proxy.type"] = 1
		p["network.proxy.http"] = "127.0.0.1"
		p["network.proxy.http_port"] = 9
		p["network.proxy.ssl"] = "127.0.0.1"
		p["network.proxy.ssl_port"] = 9
		p["network.proxy.allow_hijacking_localhost"] = false
		p["network.proxy.no_proxies_on"] = strings.Join(noProxy(o), ", ")
	}
	if addr := forceResolve(o); addr != "" {
		p["network.dns.forceResolve"] = addr
	}
	return p
}

// noProxy is what the proxy trap lets through: loopback, the --resolve
// names and the allowed hosts.
func noProxy(o runner.Options) []string {
	list := []string{"localhost", ".localhost", "127.0.0.0/8", "[::1]"}
	for _, h := range slices.Sorted(maps.Keys(o.Resolve)) {
		list = append(list, h)
	}
	for _, h := range o.AllowHosts {
		h = strings.ToLower(h)
		if _, mapped := o.Resolve[h]; !mapped && !core.LoopbackLiteral(h) && h != "localhost" {
			list = append(list, h)
		}
	}
	return list
}

// forceResolve is the one address every --resolve name maps to; Firefox
// has no per-name mapping, so names mapping to different addresses are
// refused (Validate).
func forceResolve(o runner.Options) string {
	addr := ""
	for _, a := range o.Resolve {
		addr = a
	}
	return addr
}

// Validate refuses the options a Firefox run cannot honour.
func Validate(o runner.Options) error {
	for _, u := range o.BrowserURLs {
		if (strings.HasPrefix(u, "ws://") || strings.HasPrefix(u, "wss://")) && o.CookieMode != "" && o.CookieMode != runner.CookieModeDefault {
			return fmt.Errorf("--cookie-mode %s needs Firefox's preferences, which a BiDi socket (%s) cannot set: give the http:// address of a WebDriver endpoint (geckodriver, a Selenium Grid) instead, or start that Firefox with network.cookie.cookieBehavior set", o.CookieMode, u)
		}
	}
	addrs := map[string]bool{}
	for _, a := range o.Resolve {
		addrs[a] = true
	}
	if len(addrs) > 1 {
		return fmt.Errorf("--resolve maps names to %d addresses: Firefox can map names to one address only (network.dns.forceResolve); run Firefox with the names that share one", len(addrs))
	}
	if len(o.CACerts) > 0 {
		if _, err := exec.LookPath("certutil"); err != nil {
			return fmt.Errorf("--ca-cert with Firefox needs NSS's certutil to put the authority in the profile: apt-get install -y libnss3-tools (or use --insecure for the Firefox run)")
		}
	}
	if len(o.ChromeArgs) > 0 {
		return fmt.Errorf("--chrome-arg applies to Chrome only; drop it for --browser firefox")
	}
	return nil
}

// userJS renders prefs as a profile's user.js.
func userJS(prefs map[string]any) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(prefs)) {
		var v string
		switch x := prefs[k].(type) {
		case string:
			v = fmt.Sprintf("%q", x)
		default:
			v = fmt.Sprint(x)
		}
		fmt.Fprintf(&b, "user_pref(%q, %s);\n", k, v)
	}
	return b.String()
}

// firefoxEnv keeps Firefox's own services quiet from the start (before
// prefs are read) and its crash reporter off.
var firefoxEnv = []string{"MOZ_REMOTE_SETTINGS_DEVTOOLS=1", "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_CRASHREPORTER=", "MOZ_DISABLE_AUTO_SAFE_MODE=1", "MOZ_HEADLESS=1"}

var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// firefoxProcess is a Firefox corscheck started: its own process group
// (content processes included) and profile.
type firefoxProcess struct {
	cmd     *exec.Cmd
	profile string
	done    chan struct{}
	mu      sync.Mutex
	tail    []string // the last lines of its stderr, for a crash report
}

func launchFirefox(path string, o runner.Options) (*firefoxProcess, string, error) {
	dir, err := os.MkdirTemp("", "corscheck-firefox-")
	if err != nil {
		return nil, "", fmt.Errorf("browser profile: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "user.js"), []byte(userJS(Prefs(o))), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	if err := trustCAs(dir, o.CACerts); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	cmd := exec.Command(path, "--headless", "--no-remote", "--remote-debugging-port=0", "--profile", dir)
	cmd.Env = append(os.Environ(), firefoxEnv...)
	cmd.Env = append(cmd.Env, "HOME="+dir, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	// Its own process group, so Close ends content processes too; and the
	// kernel kills the main process if corscheck dies (SIGKILL included).
	cmd.SysProcAttr = core.BrowserProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("start %s: %w", path, err)
	}
	p := &firefoxProcess{cmd: cmd, profile: dir, done: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if m := bidiListening.FindStringSubmatch(line); m != nil && !sent {
				urls <- m[1]
				sent = true
			}
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 20 {
				p.tail = p.tail[len(p.tail)-20:]
			}
			p.mu.Unlock()
		}
		if !sent {
			close(urls)
		}
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	select {
	case u, ok := <-urls:
		if ok {
			return p, u, nil
		}
		<-p.done
		p.kill()
		return nil, "", fmt.Errorf("%s exited before it listened for WebDriver BiDi: %s", path, p.lastLines())
	case <-time.After(o.StartTimeoutFor(runner.EngineFirefox)):
		p.kill()
		return nil, "", fmt.Errorf("%s did not listen for WebDriver BiDi within %s (--start-timeout): %s", path, o.StartTimeoutFor(runner.EngineFirefox), p.lastLines())
	}
}

func (p *firefoxProcess) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return "no output"
	}
	return strings.Join(p.tail[max(0, len(p.tail)-3):], " | ")
}

// kill ends the whole process group and removes the profile.
func (p *firefoxProcess) kill() {
	if p == nil {
		return
	}
	if p.cmd.Process != nil {
		pgid := p.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
	os.RemoveAll(p.profile)
}

// bidiPort is the port of a ws:// URL (for tests and messages).
func bidiPort(u string) string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimSuffix(u, "/"), "ws://"))
	return port
}

// trustCAs puts the --ca-cert authorities in the profile's NSS database
// (certutil), trusted to issue server certificates, for this profile only.
func trustCAs(profile string, files []string) error {
	if len(files) == 0 {
		return nil
	}
	cas, err := runner.LoadCAs(files)
	if err != nil {
		return err
	}
	db := "sql:" + profile
	run := func(args ...string) error {
		out, err := exec.Command("certutil", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("certutil %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("-N", "-d", db, "--empty-password"); err != nil {
		return err
	}
	for i, c := range cas {
		f := filepath.Join(profile, fmt.Sprintf("ca-%d.der", i))
		if err := os.WriteFile(f, c.Raw, 0o600); err != nil {
			return err
		}
		if err := run("-A", "-d", db, "-n", fmt.Sprintf("corscheck --ca-cert %d", i), "-t", "C,,", "-i", f); err != nil {
			return err
		}
	}
	return nil
}
