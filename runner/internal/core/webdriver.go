package core

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/corscheck/corscheck/runner"
)

// WebDriver sends one W3C WebDriver classic command to url and decodes the
// answer into out. An "invalid session id" answer is runner.ErrBrowserGone.
func WebDriver(ctx context.Context, client *http.Client, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		var e struct {
			Value struct {
				Error   string `json:"error"`
				Message string `json:"message"`
			} `json:"value"`
		}
		json.Unmarshal(data, &e)
		if e.Value.Error == "invalid session id" {
			return fmt.Errorf("%w: %s", runner.ErrBrowserGone, e.Value.Message)
		}
		if e.Value.Error == "" {
			return fmt.Errorf("WebDriver %s %s: HTTP %d", method, url, resp.StatusCode)
		}
		return fmt.Errorf("WebDriver %s %s: %s: %s", method, url, e.Value.Error, e.Value.Message)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
