package scenarios

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Wrong targets: a run against the wrong URL gives hundreds of findings
// that blame a server that was never asked. These checks name the mistake
// in one line, before anything is sent (or, for what only the answers
// show, before the matrix runs).

// TargetIsAllowedOrigin reports, as an error, a target whose origin is one
// of the policy's allowed origins: that is the app (the page that calls the
// API), not the API.
func TargetIsAllowedOrigin(p *Policy, target string) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	if port := u.Port(); port == "443" && u.Scheme == "https" || port == "80" && u.Scheme == "http" {
		origin = strings.ToLower(u.Scheme + "://" + u.Hostname())
	}
	for _, o := range p.Origins {
		if o == "*" {
			continue
		}
		if o == origin || strings.Contains(o, "://*.") && (&Policy{Origins: []string{o}}).OriginAllowed(origin) {
			return fmt.Errorf("the target %s is one of the policy's allowed origins (%s): that is the app that calls the API, not the API. Pass the API's URL with --target (e.g. https://api.example.com/v1/items)", Visible(target), Visible(o))
		}
	}
	return nil
}

// RepeatedBasePath reports, as an error, a target whose path the API
// description's operation paths repeat (--target https://api/v1/items with
// an operation /v1/items/{id} probes /v1/items/v1/items/7): corscheck
// appends each operation's path to the target's.
func RepeatedBasePath(target string, ops []Operation) error {
	u, err := url.Parse(target)
	if err != nil {
		return nil
	}
	segs := splitPath(u.Path)
	if len(segs) == 0 {
		return nil
	}
	for _, op := range ops {
		opSegs := splitPath(op.Path)
		for k := min(len(segs), len(opSegs)); k >= 1; k-- {
			if strings.Join(segs[len(segs)-k:], "/") != strings.Join(opSegs[:k], "/") {
				continue
			}
			base := *u
			base.Path, base.RawPath, base.RawQuery = "/"+strings.Join(segs[:len(segs)-k], "/"), "", ""
			if base.Path != "/" {
				base.Path += "/"
			}
			return fmt.Errorf("the OpenAPI paths already contain the target's path: %s + %s would probe %s. Pass the API's base URL instead: --target %s",
				Visible(u.Path), Visible(op.Path), Visible(strings.TrimSuffix(u.Path, "/")+op.Path), Visible(base.String()))
		}
	}
	return nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// NotTheAPI reports, as an error, answers that show the target is not the
// API: every route's GET from the allowed origin answered 404 (the path is
// wrong), or the same HTML page (a web app's catch-all). obs are those
// answers, one per route asked.
func NotTheAPI(obs []Observation) error {
	if len(obs) == 0 {
		return nil
	}
	notFound, html := 0, 0
	var size int64 = -1
	sameSize := true
	for _, o := range obs {
		if o.Response == nil {
			return nil // no answer: the run reports it
		}
		switch st := o.Response.Status; {
		case st == 404:
			notFound++
		case st == 200:
			ct, _ := o.Response.Header("content-type")
			if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "text/html") {
				return nil
			}
			html++
			n := int64(-1)
			if o.Body != nil && o.Body.Complete {
				n = o.Body.Bytes
			} else if cl, ok := o.Response.Header("content-length"); ok {
				if v, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil {
					n = v
				}
			}
			switch {
			case n < 0 || size >= 0 && n != size:
				sameSize = false
			case size < 0:
				size = n
			}
		}
	}
	first := obs[0].Request
	u, _ := url.Parse(first.URL)
	path := "/"
	if u != nil && u.Path != "" {
		path = u.Path
	}
	routes := fmt.Sprintf("all %d routes", len(obs))
	if len(obs) == 1 {
		routes = "the target"
	}
	switch {
	case notFound == len(obs):
		return fmt.Errorf("%s answered 404 to a GET from the allowed origin (e.g. GET %s): the target's URL is not the API's. Check --target (and the OpenAPI servers path): every finding would blame routes that do not exist", routes, Visible(path))
	case html == len(obs) && len(obs) > 1 && sameSize && size >= 0:
		return fmt.Errorf("%s answered the same HTML page (%d bytes, text/html) to a GET from the allowed origin (e.g. GET %s): the target serves a web app's catch-all page, not the API. Pass the API's URL with --target", routes, size, Visible(path))
	}
	return nil
}
