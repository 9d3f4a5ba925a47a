package webkit

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corscheck/corscheck/runner/internal/core"
)

// wkInspector is a client of WebKitGTK's remote inspector socket (the
// browser's WEBKIT_INSPECTOR_SERVER; WebKitWebDriver is the other client).
// The script of a page sees only "TypeError: Load failed"; the inspector's
// Network.loadingFailed carries WebKit's own reason ("Method PATCH is not
// allowed by Access-Control-Allow-Methods."), and its console the mixed
// content refusals.
//
// The socket speaks WTF::SocketConnection: a 4-byte big-endian body size,
// a flags byte (0x01: little-endian), then the body: the message name, a
// NUL, and its parameters as a serialised GVariant. Messages used:
// SetupInspectorClient (ay), Setup (tt), SendMessageToBackend (tts) out;
// SetTargetList (ta(tsssb)), SendMessageToFrontend (tts) in.
type wkInspector struct {
	conn    net.Conn
	wmu     sync.Mutex
	onEvent func(method string, params json.RawMessage)

	mu      sync.Mutex
	connID  uint64
	pages   map[uint64]bool   // page debuggables set up
	targets map[string]uint64 // page target id -> its debuggable
	nextID  int
	enabled map[string]chan struct{} // target id -> closed when its domains are on
	closed  chan struct{}
}

// inspectorPort finds the inspector server of the browser a driver
// started: the WEBKIT_INSPECTOR_SERVER in the environment of the driver's
// child process.
func inspectorPort(driverPID int) (string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 2 || f[1] != strconv.Itoa(driverPID) {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "WEBKIT_INSPECTOR_SERVER="); ok {
				return v, nil
			}
		}
	}
	return "", errors.New("the browser's inspector server was not found (no WEBKIT_INSPECTOR_SERVER in its environment)")
}

// listenerPID is the process listening on loopback TCP port (a
// WebKitWebDriver someone else started): its browser's inspector is found
// among its children.
func listenerPID(port string) (int, error) {
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0, err
	}
	hexPort := fmt.Sprintf(":%04X", n)
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, _ := os.ReadFile(table)
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && strings.HasSuffix(f[1], hexPort) && f[3] == "0A" { // 0A: LISTEN
				inodes[f[9]] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing on this machine listens on port %s", port)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		for _, fd := range fds {
			l, _ := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name()))
			if ino, ok := strings.CutPrefix(l, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("the process listening on port %s is not visible to corscheck (another user's, or another container's): WebKit's inspector cannot be found", port)
}

func dialInspector(addr string, onEvent func(method string, params json.RawMessage)) (*wkInspector, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !core.LoopbackLiteral(host) {
		return nil, fmt.Errorf("inspector address %q is not on loopback", addr)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("inspector %s: %w", addr, err)
	}
	in := &wkInspector{conn: c, onEvent: onEvent, pages: map[uint64]bool{}, targets: map[string]uint64{}, enabled: map[string]chan struct{}{}, closed: make(chan struct{})}
	go in.read()
	if err := in.send("SetupInspectorClient", gvBytestring("corscheck")); err != nil {
		c.Close()
		return nil, err
	}
	return in, nil
}

func (in *wkInspector) close() { in.conn.Close() }

func (in *wkInspector) send(name string, params []byte) error {
	body := append([]byte(name), 0)
	body = append(body, params...)
	msg := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(msg, uint32(len(body)))
	msg[4] = 1 // little-endian parameters
	msg = append(msg, body...)
	in.wmu.Lock()
	defer in.wmu.Unlock()
	in.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := in.conn.Write(msg)
	return err
}

func (in *wkInspector) read() {
	defer close(in.closed)
	br := bufio.NewReaderSize(in.conn, 64<<10)
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		size := binary.BigEndian.Uint32(hdr[:4])
		if hdr[4]&1 == 0 || size > 256<<20 {
			return // big-endian peers and absurd sizes are not spoken here
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		name, params, ok := strings.Cut(string(body), "\x00")
		if !ok {
			continue
		}
		in.dispatch(name, []byte(params))
	}
}

func (in *wkInspector) dispatch(name string, params []byte) {
	switch name {
	case "DidSetupInspectorClient":
		// The automation session's page is debuggable 1 of the browser's
		// own connection, the first to the server (1). The target list
		// does not show it while automation drives it, yet Setup works.
		in.mu.Lock()
		in.connID = 1
		in.pages[1] = true
		in.mu.Unlock()
		in.send("Setup", gvUint64s(1, 1))
	case "SetTargetList":
		if len(params) < 8 {
			return
		}
		connID := binary.LittleEndian.Uint64(params[:8])
		for _, t := range gvTargetList(params[8:]) {
			if t.kind != "WebPage" {
				continue
			}
			in.mu.Lock()
			in.connID = connID
			fresh := !in.pages[t.id]
			in.pages[t.id] = true
			in.mu.Unlock()
			if fresh {
				in.send("Setup", gvUint64s(connID, t.id))
			}
		}
	case "SendMessageToFrontend":
		if len(params) < 16 {
			return
		}
		page := binary.LittleEndian.Uint64(params[8:16])
		msg := strings.TrimSuffix(string(params[16:]), "\x00")
		in.frontend(page, msg)
	}
}

// frontend handles a message from a page debuggable: its targets come and
// go (a cross-site navigation swaps the web process), and each new one
// gets the Network and Console domains; their events are passed on.
func (in *wkInspector) frontend(page uint64, msg string) {
	var m struct {
		ID     int             `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if json.Unmarshal([]byte(msg), &m) != nil {
		return
	}
	switch m.Method {
	case "Target.targetCreated":
		var p struct {
			TargetInfo struct {
				TargetID string `json:"targetId"`
				Type     string `json:"type"`
			} `json:"targetInfo"`
		}
		if json.Unmarshal(m.Params, &p) != nil || p.TargetInfo.Type != "page" {
			return
		}
		in.enable(page, p.TargetInfo.TargetID)
	case "Target.dispatchMessageFromTarget":
		var p struct {
			TargetID string `json:"targetId"`
			Message  string `json:"message"`
		}
		if json.Unmarshal(m.Params, &p) != nil {
			return
		}
		var inner struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal([]byte(p.Message), &inner) != nil {
			return
		}
		if inner.Method == "" {
			// The answer to Console.enable, the last domain switched on.
			if inner.ID == 2 {
				in.mu.Lock()
				if ch, ok := in.enabled[p.TargetID]; ok {
					select {
					case <-ch:
					default:
						close(ch)
					}
				}
				in.mu.Unlock()
			}
			return
		}
		in.onEvent(inner.Method, inner.Params)
	}
}

// enable switches on the domains corscheck reads in a page target. Inner
// ids: 1 Network, 2 Console (its answer says both are on).
func (in *wkInspector) enable(page uint64, target string) {
	in.mu.Lock()
	in.targets[target] = page
	if _, ok := in.enabled[target]; !ok {
		in.enabled[target] = make(chan struct{})
	}
	in.mu.Unlock()
	for i, domain := range []string{"Network.enable", "Console.enable"} {
		inner, _ := json.Marshal(map[string]any{"id": i + 1, "method": domain})
		in.toTarget(page, target, string(inner))
	}
}

func (in *wkInspector) toTarget(page uint64, target, inner string) error {
	in.mu.Lock()
	in.nextID++
	id, connID := in.nextID, in.connID
	in.mu.Unlock()
	outer, _ := json.Marshal(map[string]any{"id": id, "method": "Target.sendMessageToTarget", "params": map[string]any{"targetId": target, "message": inner}})
	return in.send("SendMessageToBackend", gvTTS(connID, page, string(outer)))
}

// ready waits until some page target has its domains on (the first page
// of a session), or the limit passes.
func (in *wkInspector) ready(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		in.mu.Lock()
		var chans []chan struct{}
		for _, ch := range in.enabled {
			chans = append(chans, ch)
		}
		in.mu.Unlock()
		for _, ch := range chans {
			select {
			case <-ch:
				return true
			default:
			}
		}
		select {
		case <-in.closed:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

func gvBytestring(s string) []byte { return append([]byte(s), 0) }

func gvUint64s(vs ...uint64) []byte {
	out := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(out[8*i:], v)
	}
	return out
}

// gvTTS is (tts): two uint64 and a string, the last member unframed.
func gvTTS(a, b uint64, s string) []byte {
	return append(gvUint64s(a, b), gvBytestring(s)...)
}

type gvTarget struct {
	id               uint64
	kind, name, url  string
	hasLocalDebugger bool
}

// gvOffsetSize is the width of the framing offsets of a container of n bytes.
func gvOffsetSize(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= 0xff:
		return 1
	case n <= 0xffff:
		return 2
	case n <= 0xffffffff:
		return 4
	}
	return 8
}

func gvOffset(b []byte, at, size int) int {
	if at < 0 || at+size > len(b) {
		return -1
	}
	var v uint64
	for i := size - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[at+i])
	}
	if v > uint64(len(b)) {
		return -1
	}
	return int(v)
}

// gvTargetList decodes a(tsssb): elements of variable size, 8-aligned,
// followed by a table of their end offsets.
func gvTargetList(b []byte) []gvTarget {
	n := len(b)
	osz := gvOffsetSize(n)
	if osz == 0 {
		return nil
	}
	tableStart := gvOffset(b, n-osz, osz)
	if tableStart < 0 || tableStart > n || (n-tableStart)%osz != 0 {
		return nil
	}
	count := (n - tableStart) / osz
	var out []gvTarget
	start := 0
	for i := range count {
		end := gvOffset(b, tableStart+i*osz, osz)
		if end < start || end > tableStart {
			return out
		}
		if t, ok := gvTargetEntry(b[start:end]); ok {
			out = append(out, t)
		}
		start = (end + 7) &^ 7
	}
	return out
}

// gvTargetEntry decodes (tsssb): the three strings' end offsets are
// stored at the tuple's end, the first string's last.
func gvTargetEntry(b []byte) (gvTarget, bool) {
	n := len(b)
	osz := gvOffsetSize(n)
	if n < 8+3*osz+1 {
		return gvTarget{}, false
	}
	e1 := gvOffset(b, n-osz, osz)
	e2 := gvOffset(b, n-2*osz, osz)
	e3 := gvOffset(b, n-3*osz, osz)
	if e1 < 8 || e2 < e1 || e3 < e2 || e3 >= n-3*osz {
		return gvTarget{}, false
	}
	str := func(from, to int) string { return strings.TrimSuffix(string(b[from:to]), "\x00") }
	return gvTarget{id: binary.LittleEndian.Uint64(b[:8]), kind: str(8, e1), name: str(e1, e2), url: str(e2, e3), hasLocalDebugger: b[e3] != 0}, true
}
