package runner

import (
	"context"
	"errors"
)

// The Firefox engine and the browser pool land in their own commits.
func startFirefox(context.Context, Options) (Browser, error) {
	return nil, errors.New("--browser firefox is not available in this build yet")
}

func startPool(context.Context, Options) (Browser, error) {
	return nil, errors.New("several --browser-url endpoints are not supported in this build yet")
}
