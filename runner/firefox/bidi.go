package firefox

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/coder/websocket"
	"github.com/corscheck/corscheck/runner"
)

// bidiConn is a WebDriver BiDi session over one WebSocket: commands with
// ids and their replies, and events delivered to subscribers in the order
// the browser sent them.
type bidiConn struct {
	ws *websocket.Conn

	mu      sync.Mutex
	next    int64
	pending map[int64]chan bidiMessage
	subs    map[int]func(method string, params json.RawMessage)
	nextSub int
	closed  chan struct{}
	err     error
}

// bidiMessage is anything the browser sends: a reply (id) or an event.
type bidiMessage struct {
	Type    string          `json:"type"`
	ID      *int64          `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

func dialBiDi(ctx context.Context, url string) (*bidiConn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	// Event payloads (headers of big responses, console text) pass the
	// library's 32 KiB default.
	ws.SetReadLimit(64 << 20)
	c := &bidiConn{ws: ws, pending: map[int64]chan bidiMessage{}, subs: map[int]func(string, json.RawMessage){}, closed: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *bidiConn) readLoop() {
	ctx := context.Background()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			c.fail(fmt.Errorf("%w: %v", runner.ErrBrowserGone, err))
			return
		}
		var m bidiMessage
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		if m.ID != nil && m.Type != "event" {
			c.mu.Lock()
			ch := c.pending[*m.ID]
			delete(c.pending, *m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		if m.Type == "event" {
			c.mu.Lock()
			subs := make([]func(string, json.RawMessage), 0, len(c.subs))
			for _, fn := range c.subs {
				subs = append(subs, fn)
			}
			c.mu.Unlock()
			for _, fn := range subs {
				fn(m.Method, m.Params)
			}
		}
	}
}

func (c *bidiConn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
		return
	default:
	}
	c.err = err
	close(c.closed)
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}

// call sends a command and decodes its result into out (when non-nil).
func (c *bidiConn) call(ctx context.Context, method string, params any, out any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan bidiMessage, 1)
	c.mu.Lock()
	select {
	case <-c.closed:
		err := c.err
		c.mu.Unlock()
		return err
	default:
	}
	c.next++
	id := c.next
	c.pending[id] = ch
	c.mu.Unlock()
	data, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return c.err
		}
		if m.Type == "error" || m.Error != "" {
			return fmt.Errorf("%s: %s: %s", method, m.Error, m.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return ctx.Err()
	case <-c.closed:
		return c.err
	}
}

// subscribe registers fn for every event; the returned func removes it.
// fn runs on the read loop: it must not block or call the browser.
func (c *bidiConn) subscribe(fn func(method string, params json.RawMessage)) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextSub++
	id := c.nextSub
	c.subs[id] = fn
	return func() {
		c.mu.Lock()
		delete(c.subs, id)
		c.mu.Unlock()
	}
}

func (c *bidiConn) close() {
	c.ws.Close(websocket.StatusNormalClosure, "")
	c.fail(runner.ErrBrowserGone)
}

// bidiValue is a BiDi string value ({"type":"string","value":...}), as
// headers and cookie values are given.
type bidiValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type bidiHeader struct {
	Name  string    `json:"name"`
	Value bidiValue `json:"value"`
}

func headerMap(hs []bidiHeader) map[string]string {
	out := make(map[string]string, len(hs))
	for _, h := range hs {
		k := lowerASCII(h.Name)
		if old, ok := out[k]; ok {
			out[k] = old + "\n" + h.Value.Value
		} else {
			out[k] = h.Value.Value
		}
	}
	return out
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
