package webhooks

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// checkURL applies the built-in URL rules and then the caller's policy. The error says
// what is wrong without echoing the URL, which may carry a token in its query.
func (o *Outbox) checkURL(raw string) (*url.URL, error) {
	if len(raw) == 0 || len(raw) > maxURLBytes {
		return nil, fmt.Errorf("%w: url must be 1 to %d bytes", ErrInvalid, maxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: url does not parse", ErrInvalid)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: url scheme must be http or https", ErrInvalid)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: url has no host", ErrInvalid)
	case u.User != nil:
		// Credentials in a URL end up in logs and proxies; receivers authenticate the
		// node by its signature instead.
		return nil, fmt.Errorf("%w: url must not contain user info", ErrInvalid)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("%w: url must not contain a fragment", ErrInvalid)
	}
	if o.opt.URLPolicy != nil {
		if err := o.opt.URLPolicy(u); err != nil {
			return nil, fmt.Errorf("%w: url refused by policy: %v", ErrInvalid, err)
		}
	}
	return u, nil
}

// validKind: lower-case ASCII letters, digits, '_', '.', '-', starting with a letter.
func validKind(k string) bool {
	if len(k) == 0 || len(k) > maxKindBytes || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// normalizeKinds checks, sorts and de-duplicates kinds; "*" absorbs the others.
func normalizeKinds(kinds []string) ([]string, error) {
	if len(kinds) == 0 {
		return nil, fmt.Errorf(`%w: at least one kind is required ("*" for every kind)`, ErrInvalid)
	}
	if len(kinds) > maxKindsPerHook {
		return nil, fmt.Errorf("%w: more than %d kinds", ErrInvalid, maxKindsPerHook)
	}
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if k == "*" {
			return []string{"*"}, nil
		}
		if !validKind(k) {
			return nil, fmt.Errorf("%w: kind %.64q is not [a-z][a-z0-9_.-]* of at most %d bytes", ErrInvalid, k, maxKindBytes)
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// validEventID: printable ASCII without spaces, because the id travels in a header.
func validEventID(id string) bool {
	if len(id) == 0 || len(id) > maxEventIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func (o *Outbox) checkEvent(ev Event) error {
	switch {
	case !validEventID(ev.ID):
		return fmt.Errorf("%w: event id must be 1 to %d bytes of printable ASCII", ErrInvalid, maxEventIDBytes)
	case !validKind(ev.Kind):
		return fmt.Errorf("%w: event kind %.64q", ErrInvalid, ev.Kind)
	case len(ev.Payload) > o.opt.MaxPayloadBytes:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(ev.Payload), o.opt.MaxPayloadBytes)
	case !json.Valid(ev.Payload):
		return fmt.Errorf("%w: event payload is not JSON", ErrInvalid)
	}
	return nil
}

func checkHookInput(h Hook) error {
	switch {
	case h.ID != "":
		return fmt.Errorf("%w: hook id is assigned by Register", ErrInvalid)
	case len(h.Secret) < minSecretBytes || len(h.Secret) > maxSecretBytes:
		return fmt.Errorf("%w: secret must be %d to %d bytes", ErrInvalid, minSecretBytes, maxSecretBytes)
	case h.Owner == "" || len(h.Owner) > maxOwnerBytes || !utf8.ValidString(h.Owner):
		return fmt.Errorf("%w: owner must be 1 to %d bytes of UTF-8", ErrInvalid, maxOwnerBytes)
	}
	return nil
}

// validHookID keeps arbitrary strings (with NUL bytes, say) away from key prefixes.
func validHookID(id string) bool {
	if len(id) != len(hookIDPrefix)+26 || !strings.HasPrefix(id, hookIDPrefix) {
		return false
	}
	for i := len(hookIDPrefix); i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
