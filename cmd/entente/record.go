package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
)

// maxRecordFile bounds a record file read by the CLI; the node refuses larger bodies too.
const maxRecordFile = 1 << 20

// runRecord calls the records API with a token, verifying every response's signature.
func runRecord(e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: record needs a verb: add, correct, get or list", errUsage)
	}
	verb, args := args[0], args[1:]
	fs := newFlags(e, "record "+verb, "record add|correct|get|list [flags] [ID]")
	a := addAPIFlags(e, fs)
	var file, kind, cursor, match *string
	var version, limit *int
	var sealed, history *bool
	switch verb {
	case "add", "correct":
		file = fs.String("file", "-", "the record as JSON (- reads standard input)")
		if verb == "correct" {
			match = fs.String("version", "", "the version being corrected (required), for example 1")
		}
	case "get":
		version = fs.Int("version", 0, "a particular version (default: the latest)")
		sealed = fs.Bool("sealed", false, "show the fields as stored: sealed")
		history = fs.Bool("history", false, "show every version")
	case "list":
		kind = fs.String("kind", "", "only records of this kind")
		limit = fs.Int("limit", 100, "records per page (1-1000)")
		cursor = fs.String("cursor", "", "continue from this cursor (next_cursor of the previous page)")
	default:
		return fmt.Errorf("%w: unknown record verb %q (add, correct, get or list)", errUsage, verb)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if (verb == "add" || verb == "list") && fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (record %s takes flags only; add reads the record from --file)", errUsage, fs.Arg(0), verb)
	}
	c, err := a.client(e)
	if err != nil {
		return err
	}
	ctx := context.Background()
	method, path := http.MethodGet, "/v1/records"
	var body []byte
	hdr := http.Header{}
	switch verb {
	case "add", "correct":
		if body, err = readInput(e, *file); err != nil {
			return err
		}
		method = http.MethodPost
		if verb == "correct" {
			if fs.NArg() != 1 || *match == "" {
				return fmt.Errorf("%w: record correct --version N [--file F] ID", errUsage)
			}
			if _, err := strconv.Atoi(*match); err != nil {
				return fmt.Errorf("%w: --version %q is not a number", errUsage, *match)
			}
			method, path = http.MethodPut, "/v1/records/"+url.PathEscape(fs.Arg(0))
			hdr.Set("If-Match", `"v`+*match+`"`)
		}
	case "get":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: record get [--version N] [--sealed] [--history] ID", errUsage)
		}
		path += "/" + url.PathEscape(fs.Arg(0))
		q := url.Values{}
		if *history {
			path += "/history"
		} else {
			if *version > 0 {
				q.Set("version", strconv.Itoa(*version))
			}
			if *sealed {
				q.Set("view", "sealed")
			}
		}
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
	case "list":
		q := url.Values{"limit": {strconv.Itoa(*limit)}}
		if *kind != "" {
			q.Set("kind", *kind)
		}
		if *cursor != "" {
			q.Set("cursor", *cursor)
		}
		path += "?" + q.Encode()
	}
	var reqBody any
	if body != nil {
		reqBody = body
	}
	resp, err := c.Do(ctx, method, path, reqBody, hdr)
	if err != nil {
		return err
	}
	printJSON(e.stdout, resp.Body)
	return nil
}

func readInput(e *env, file string) ([]byte, error) {
	var r io.Reader = e.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxRecordFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRecordFile {
		return nil, fmt.Errorf("the record is larger than %d bytes", maxRecordFile)
	}
	return b, nil
}
