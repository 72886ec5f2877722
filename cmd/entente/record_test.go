package main

import (
	"errors"
	"path/filepath"
	"testing"
)

// The record commands talk to a running node; these tests cover what they refuse before
// any request is sent: no token, no node, no keys to verify responses with. Where a
// client is built, the URL is a closed port, so a regression that does send a request
// fails rather than hangs.
func TestRecordRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	dir, _ := initNode(t)
	jwks := filepath.Join(dir, "keys", "jwks.json")
	const url = "https://127.0.0.1:1"

	for _, tc := range []struct {
		name  string
		vars  map[string]string
		args  []string
		want  []string
		usage bool
	}{
		{name: "no token", args: []string{"list", "--node", url, "--jwks", jwks},
			want: []string{"no token", "ENTENTE_TOKEN"}, usage: true},
		{name: "no token, add", args: []string{"add", "--data", dir},
			want: []string{"ENTENTE_TOKEN"}, usage: true},
		{name: "no node", args: []string{"list", "--token", "t"},
			want: []string{"--node URL or --data DIR"}, usage: true},
		{name: "token from env, no node", vars: map[string]string{"ENTENTE_TOKEN": "t"}, args: []string{"get", "FRA-1"},
			want: []string{"--node URL or --data DIR"}, usage: true},
		{name: "node, no keys", args: []string{"list", "--token", "t", "--node", url},
			want: []string{"responses must be verified", "--jwks"}, usage: true},
		{name: "node from env, no keys", vars: map[string]string{"ENTENTE_TOKEN": "t", "ENTENTE_NODE": url}, args: []string{"list"},
			want: []string{"responses must be verified"}, usage: true},
		{name: "private key as jwks", args: []string{"list", "--token", "t", "--node", url, "--jwks", filepath.Join(dir, "keys", "signing.jwk")},
			want: []string{"--jwks " + filepath.Join(dir, "keys", "signing.jwk")}},
		{name: "bad pin", args: []string{"list", "--token", "t", "--node", url, "--jwks", jwks, "--pin", "md5:abc"},
			want: []string{`"md5:abc"`}},
		{name: "stopped node", args: []string{"list", "--token", "t", "--data", dir},
			want: []string{"no running node found in " + dir, "entente serve"}},
		{name: "get without id", args: []string{"get", "--token", "t", "--node", url, "--jwks", jwks},
			want: []string{"record get"}, usage: true},
		{name: "correct without version", args: []string{"correct", "--token", "t", "--node", url, "--jwks", jwks, "FRA-1"},
			want: []string{"record correct --version N"}, usage: true},
		{name: "correct with a bad version", args: []string{"correct", "--token", "t", "--node", url, "--jwks", jwks, "--version", "v1", "FRA-1"},
			want: []string{`--version "v1" is not a number`}, usage: true},
		{name: "add from a missing file", args: []string{"add", "--token", "t", "--node", url, "--jwks", jwks, "--file", filepath.Join(dir, "nope.json")},
			want: []string{"nope.json"}},
		{name: "flag of another verb", args: []string{"list", "--history"},
			want: []string{"history"}, usage: true},
	} {
		r := runCLI(t, tc.vars, append([]string{"record"}, tc.args...)...)
		if r.err == nil {
			t.Errorf("%s: record %v succeeded", tc.name, tc.args)
			continue
		}
		for _, w := range tc.want {
			wantErr(t, r.err, w)
		}
		if got := errors.Is(r.err, errUsage); got != tc.usage {
			t.Errorf("%s: usage error %v, want %v (%v)", tc.name, got, tc.usage, r.err)
		}
		if r.stdout != "" {
			t.Errorf("%s: stdout %q, want nothing", tc.name, r.stdout)
		}
	}
}
