package scenarios

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// MaxOpenAPISize bounds an OpenAPI file.
const MaxOpenAPISize = 16 << 20

// OpenAPI is what corscheck takes from an API description: its operations
// (routes and their methods) and the base path of its first server.
type OpenAPI struct {
	Operations []Operation
	// BasePath is the path of the first servers entry (/v1), if any.
	BasePath string
}

// LoadOpenAPI reads an OpenAPI 3.0 or 3.1 file (YAML or JSON). Path
// parameters get a sample value: pathParams (the policy's, then --path-param)
// first, then the parameter's example, then its schema's example, else a
// placeholder by type. External $refs are refused (nothing is fetched).
func LoadOpenAPI(file string, pathParams map[string]string) (*OpenAPI, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--openapi: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxOpenAPISize+1))
	if err != nil {
		return nil, fmt.Errorf("--openapi %s: %w", file, err)
	}
	if len(data) > MaxOpenAPISize {
		return nil, fmt.Errorf("--openapi %s: larger than %d bytes", file, MaxOpenAPISize)
	}
	return ParseOpenAPI(file, data, pathParams)
}

// ParseOpenAPI parses an OpenAPI document already read.
func ParseOpenAPI(name string, data []byte, pathParams map[string]string) (*OpenAPI, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(data)
	if err != nil {
		var ext *openapi3.DisallowedExternalRefError
		if errors.As(err, &ext) {
			return nil, fmt.Errorf("--openapi %s: it refers to another file (%s); corscheck reads one self-contained file: bundle it first", name, ext.Ref)
		}
		return nil, fmt.Errorf("--openapi %s: not an OpenAPI 3.0 or 3.1 document: %v", name, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, fmt.Errorf("--openapi %s: version %q; corscheck reads OpenAPI 3.0 and 3.1 (convert Swagger 2.0 first)", name, doc.OpenAPI)
	}
	out := &OpenAPI{}
	if len(doc.Servers) > 0 {
		if u, err := url.Parse(doc.Servers[0].URL); err == nil && !strings.Contains(u.Path, "{") {
			out.BasePath = strings.TrimSuffix(u.Path, "/")
		}
	}
	if doc.Paths == nil {
		return nil, fmt.Errorf("--openapi %s: no paths", name)
	}
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, path := range paths {
		item := doc.Paths.Value(path)
		if item == nil {
			continue
		}
		op := Operation{Path: path}
		samples := map[string]string{}
		addParams := func(params openapi3.Parameters) {
			for _, ref := range params {
				if ref == nil || ref.Value == nil || ref.Value.In != openapi3.ParameterInPath {
					continue
				}
				samples[ref.Value.Name] = sampleParam(ref.Value)
			}
		}
		addParams(item.Parameters)
		for method, o := range item.Operations() {
			m := strings.ToUpper(method)
			if m == "TRACE" || m == "CONNECT" {
				continue
			}
			op.Methods = append(op.Methods, m)
			addParams(o.Parameters)
		}
		if len(op.Methods) == 0 {
			continue
		}
		sort.Strings(op.Methods)
		for k, v := range pathParams {
			samples[k] = v
		}
		op.Sample = fillParams(path, samples)
		out.Operations = append(out.Operations, op)
	}
	if len(out.Operations) == 0 {
		return nil, fmt.Errorf("--openapi %s: no operations under paths", name)
	}
	if len(out.Operations) > MaxRoutes {
		return nil, fmt.Errorf("--openapi %s: %d paths; at most %d in one run: split the description, or run in shards", name, len(out.Operations), MaxRoutes)
	}
	return out, nil
}

// sampleParam is a value for a path parameter: its example, its schema's
// example, or a placeholder by type.
func sampleParam(p *openapi3.Parameter) string {
	if p.Example != nil {
		return fmt.Sprint(p.Example)
	}
	for _, ex := range p.Examples {
		if ex != nil && ex.Value != nil && ex.Value.Value != nil {
			return fmt.Sprint(ex.Value.Value)
		}
	}
	if p.Schema != nil && p.Schema.Value != nil {
		s := p.Schema.Value
		if s.Example != nil {
			return fmt.Sprint(s.Example)
		}
		if len(s.Enum) > 0 {
			return fmt.Sprint(s.Enum[0])
		}
		switch {
		case s.Type.Is("integer"), s.Type.Is("number"):
			return "1"
		case s.Format == "uuid":
			return "00000000-0000-4000-8000-000000000001"
		}
	}
	return "corscheck"
}
