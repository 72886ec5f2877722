package api

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes fails when a route is served but undocumented, or documented
// but not served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                            `json:"openapi"`
		Paths   map[string]map[string]interface{} `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q, want 3.1.x", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(documented)
	served := Routes()
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Fatalf("documented routes:\n%s\n\nserved routes:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
}

func TestETagRoundTrip(t *testing.T) {
	for _, v := range []int{1, 2, 99} {
		if got, ok := parseETag(etag(v)); !ok || got != v {
			t.Fatalf("etag %d -> %d %v", v, got, ok)
		}
	}
	for _, bad := range []string{"", "v1", `"1"`, `"v0"`, `"v-1"`, `"vx"`, `W/"v1"`} {
		if _, ok := parseETag(bad); ok {
			t.Errorf("parseETag accepted %q", bad)
		}
	}
}
