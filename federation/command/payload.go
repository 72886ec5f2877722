package command

import (
	"bytes"
	"net"
	"strings"

	"github.com/entente/entente/crypto/jws"

	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"unicode"
	"unicode/utf8"

	"filippo.io/age"

	"github.com/entente/entente/crypto/seal"
	"github.com/entente/entente/policy"
)

// Payload is the typed content of a command.
type Payload interface {
	// Type is the command type the payload belongs to.
	Type() Type
	// Validate checks the payload's shape, without any state: ids, enumerations, markings,
	// and that no field marked NATIONAL is present. Rules that need the state (is the
	// window still open, is the voter a member) belong to the state machine.
	Validate() error
}

// currentVersion is the payload version this build writes. Decode accepts only the
// versions it knows.
const currentVersion = 1

// New builds an unsigned command carrying p for origin.
func New(origin string, p Payload) (*Command, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	data, err := canonical(p)
	if err != nil {
		return nil, err
	}
	return &Command{Type: p.Type(), Version: currentVersion, Origin: origin, Payload: data}, nil
}

func canonical(p Payload) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("command: encode %s: %w", p.Type(), err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Decode returns c's typed payload. The payload must be exactly the canonical encoding of
// what it decodes to (one form per command), with no unknown members, and must pass the
// type's shape check.
func Decode(c *Command) (Payload, error) {
	if c.Version != currentVersion {
		return nil, fmt.Errorf("%w: %s version %d is not known to this node", ErrMalformed, c.Type, c.Version)
	}
	if err := policy.ValidStateCode(c.Origin); err != nil {
		return nil, fmt.Errorf("%w: origin: %v", ErrMalformed, err)
	}
	var p Payload
	switch c.Type {
	case TypeNominate:
		p = &Nominate{}
	case TypeVote:
		p = &Vote{}
	case TypeAppeal:
		p = &Appeal{}
	case TypeAppealVote:
		p = &AppealVote{}
	case TypeRenew:
		p = &Renew{}
	case TypeTransition:
		p = &Transition{}
	case TypeIndicator:
		p = &Indicator{}
	case TypeCorroborate:
		p = &Corroborate{}
	case TypeWithdraw:
		p = &Withdraw{}
	case TypeEpochKey:
		p = &EpochKey{}
	case TypeMembership:
		p = &Membership{}
	case TypeMemberVote:
		p = &MemberVote{}
	case TypeRewrap:
		p = &Rewrap{}
	case TypeDecide:
		p = &Decide{}
	default:
		return nil, fmt.Errorf("%w: unknown command type %d", ErrMalformed, byte(c.Type))
	}
	dec := json.NewDecoder(bytes.NewReader(c.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("%w: %s payload: %v", ErrMalformed, c.Type, err)
	}
	again, err := canonical(p)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, c.Payload) {
		return nil, fmt.Errorf("%w: %s payload is not in canonical form", ErrMalformed, c.Type)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// FieldError is a command that breaks a shape rule, naming the field, so that an API can
// tell its caller which field to correct. It is ErrInvalid.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%v: %s: %s", ErrInvalid, e.Field, e.Msg) }

// Is makes a FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

func checkID(field, id string) error {
	if !idPattern.MatchString(id) {
		return invalid(field, "%q is not an id (letters, digits and . _ : -, at most 128)", id)
	}
	return nil
}

// Field is a shared field as it travels: its marking, and either its sealed value or, for
// PUBLIC fields only, its plain JSON.
type Field struct {
	Marking string          `json:"marking"`
	Sealed  *seal.Sealed    `json:"sealed,omitempty"`
	Plain   json.RawMessage `json:"plain,omitempty"`
}

// check enforces sovereignty and the field's shape: a NATIONAL value never enters the
// log, not even sealed.
func (f Field) check(name string) error {
	m, err := policy.ParseMarking(f.Marking)
	if err != nil {
		return invalid(name+".marking", "%v", err)
	}
	if m.String() != f.Marking {
		return invalid(name+".marking", "%q is not in canonical form (%q)", f.Marking, m.String())
	}
	if !policy.MayLeave(m) {
		return invalid(name, "is marked %s and may not leave its node, not even sealed", f.Marking)
	}
	switch {
	case m.Kind == policy.Public:
		if f.Sealed != nil || len(f.Plain) == 0 || !json.Valid(f.Plain) {
			return invalid(name, "a PUBLIC field carries its plain JSON value and nothing sealed")
		}
	case f.Sealed == nil || len(f.Plain) != 0:
		return invalid(name, "a %s field must be sealed, with no plain value", f.Marking)
	default:
		if err := f.Sealed.Validate(); err != nil {
			return invalid(name+".sealed", "%v", err)
		}
		if f.Sealed.Marking != f.Marking {
			return invalid(name+".sealed.marking", "%q differs from the field's marking %q", f.Sealed.Marking, f.Marking)
		}
	}
	return nil
}

func checkFields(fields map[string]Field, required, allowed []string) error {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !slices.Contains(allowed, n) {
			return invalid("fields."+n, "unknown field (known: %v)", allowed)
		}
		if err := fields[n].check("fields." + n); err != nil {
			return err
		}
	}
	for _, n := range required {
		if _, ok := fields[n]; !ok {
			return invalid("fields."+n, "required")
		}
	}
	return nil
}

func checkKeys(keys []seal.WrappedKey) error {
	if len(keys) > 16 {
		return invalid("keys", "%d wrapped keys, at most 16", len(keys))
	}
	for i, k := range keys {
		if k.ID == "" || len(k.Recipients) == 0 || len(k.Wrapped) == 0 {
			return invalid(fmt.Sprintf("keys[%d]", i), "needs an id, recipients and the wrapped key")
		}
		if (k.Subject == "") != (len(k.Epochs) == 0) || (k.Subject != "" && len(k.Epochs) != len(k.Recipients)) {
			return invalid(fmt.Sprintf("keys[%d]", i), "a subject key names its subject and one epoch per recipient; another key has neither")
		}
	}
	return nil
}

// Watchlist entry kinds.
var watchlistKinds = []string{"denied-party", "end-user-of-concern", "debarred-supplier"}

// Nominate proposes a party for the consensus watchlist. The entry's fields are sealed for
// the states their markings release them to; Keys carries any data key used for the first
// time, wrapped for its recipients.
type Nominate struct {
	ID     string            `json:"id"`
	Kind   string            `json:"kind"`
	Fields map[string]Field  `json:"fields"`
	Keys   []seal.WrappedKey `json:"keys,omitempty"`
}

// Type implements Payload.
func (*Nominate) Type() Type { return TypeNominate }

// Validate implements Payload.
func (p *Nominate) Validate() error {
	if err := checkID("id", p.ID); err != nil {
		return err
	}
	if !slices.Contains(watchlistKinds, p.Kind) {
		return invalid("kind", "%q: want one of %v", p.Kind, watchlistKinds)
	}
	if err := checkFields(p.Fields, []string{"party", "basis"}, []string{"party", "basis", "rationale"}); err != nil {
		return err
	}
	return checkKeys(p.Keys)
}

// Vote endorses or objects to a nomination during its consultation window. An objection
// may be blocking, and carries a sealed reason.
type Vote struct {
	Entry    string `json:"entry"`
	Position string `json:"position"`
	Blocking bool   `json:"blocking,omitempty"`
	Reason   *Field `json:"reason,omitempty"`
	// Keys carries the voter's data key for the reason when the federation has not seen
	// it yet: a subject key of the entry, destroyed when the entry is purged.
	Keys []seal.WrappedKey `json:"keys,omitempty"`
}

// Type implements Payload.
func (*Vote) Type() Type { return TypeVote }

// Validate implements Payload.
func (p *Vote) Validate() error {
	if err := checkID("entry", p.Entry); err != nil {
		return err
	}
	switch p.Position {
	case "endorse":
		if p.Blocking {
			return invalid("blocking", "only an objection can block")
		}
	case "object":
		if p.Reason == nil {
			return invalid("reason", "an objection gives its reason")
		}
	default:
		return invalid("position", "%q: want endorse or object", p.Position)
	}
	if p.Reason != nil {
		if err := p.Reason.check("reason"); err != nil {
			return err
		}
	}
	return checkKeys(p.Keys)
}

// Appeal brings an appeal against a listed entry.
type Appeal struct {
	Entry   string `json:"entry"`
	Grounds Field  `json:"grounds"`
	// Keys carries the appellant's data key for the grounds, as Vote.Keys does.
	Keys []seal.WrappedKey `json:"keys,omitempty"`
}

// Type implements Payload.
func (*Appeal) Type() Type { return TypeAppeal }

// Validate implements Payload.
func (p *Appeal) Validate() error {
	if err := checkID("entry", p.Entry); err != nil {
		return err
	}
	if err := p.Grounds.check("grounds"); err != nil {
		return err
	}
	return checkKeys(p.Keys)
}

// AppealVote is a voter's decision on an appeal.
type AppealVote struct {
	Entry    string `json:"entry"`
	Decision string `json:"decision"`
}

// Type implements Payload.
func (*AppealVote) Type() Type { return TypeAppealVote }

// Validate implements Payload.
func (p *AppealVote) Validate() error {
	if err := checkID("entry", p.Entry); err != nil {
		return err
	}
	if p.Decision != "delist" && p.Decision != "uphold" {
		return invalid("decision", "%q: want delist or uphold", p.Decision)
	}
	return nil
}

// Renew is the originator renewing a listing for another review period.
type Renew struct {
	Entry string `json:"entry"`
}

// Type implements Payload.
func (*Renew) Type() Type { return TypeRenew }

// Validate implements Payload.
func (p *Renew) Validate() error { return checkID("entry", p.Entry) }

// Transition asks the state machine to apply a deadline that has fallen due: closing a
// consultation or an appeal, a review falling due, an expiry, or a purge when retention
// ends. Apply checks the deadline against the stamped time and rejects it if early.
type Transition struct {
	Subject string `json:"subject"` // "watchlist/<id>" or "indicator/<id>"
	To      string `json:"to"`
}

// Transition targets.
var transitionTargets = []string{"closed", "review-due", "appeal-closed", "expired", "purged"}

// Type implements Payload.
func (*Transition) Type() Type { return TypeTransition }

// Validate implements Payload.
func (p *Transition) Validate() error {
	kind, id, ok := cutSubject(p.Subject)
	if !ok || (kind != "watchlist" && kind != "indicator" && kind != "membership") {
		return invalid("subject", "%q: want watchlist/<id>, indicator/<id> or membership/<id>", p.Subject)
	}
	if err := checkID("subject", id); err != nil {
		return err
	}
	if !slices.Contains(transitionTargets, p.To) {
		return invalid("to", "%q: want one of %v", p.To, transitionTargets)
	}
	return nil
}

func cutSubject(s string) (kind, id string, ok bool) {
	i := bytes.IndexByte([]byte(s), '/')
	if i <= 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// Indicator kinds.
var indicatorKinds = []string{"destination", "end-user", "item", "route", "diversion", "failed-end-use-check", "supply-chain"}

// Indicator publishes a risk indicator: a subject (a destination, an end user, an item, a
// route), a severity from 1 to 5, sealed evidence, and when it stops being valid.
type Indicator struct {
	ID         string            `json:"id"`
	Kind       string            `json:"kind"`
	Subject    Field             `json:"subject"`
	Severity   int               `json:"severity"`
	Evidence   Field             `json:"evidence"`
	ValidUntil int64             `json:"valid_until"` // Unix seconds
	Keys       []seal.WrappedKey `json:"keys,omitempty"`
}

// Type implements Payload.
func (*Indicator) Type() Type { return TypeIndicator }

// Validate implements Payload.
func (p *Indicator) Validate() error {
	if err := checkID("id", p.ID); err != nil {
		return err
	}
	if !slices.Contains(indicatorKinds, p.Kind) {
		return invalid("kind", "%q: want one of %v", p.Kind, indicatorKinds)
	}
	if p.Severity < 1 || p.Severity > 5 {
		return invalid("severity", "%d: want 1 to 5", p.Severity)
	}
	if p.ValidUntil <= 0 {
		return invalid("valid_until", "must be set")
	}
	if err := p.Subject.check("subject"); err != nil {
		return err
	}
	if err := p.Evidence.check("evidence"); err != nil {
		return err
	}
	return checkKeys(p.Keys)
}

// Corroborate is another state backing an indicator.
type Corroborate struct {
	Indicator string `json:"indicator"`
	Note      *Field `json:"note,omitempty"`
}

// Type implements Payload.
func (*Corroborate) Type() Type { return TypeCorroborate }

// Validate implements Payload.
func (p *Corroborate) Validate() error {
	if err := checkID("indicator", p.Indicator); err != nil {
		return err
	}
	if p.Note != nil {
		return p.Note.check("note")
	}
	return nil
}

// Withdraw is the originator withdrawing its indicator.
type Withdraw struct {
	Indicator string `json:"indicator"`
}

// Type implements Payload.
func (*Withdraw) Type() Type { return TypeWithdraw }

// Validate implements Payload.
func (p *Withdraw) Validate() error { return checkID("indicator", p.Indicator) }

// EpochKey publishes a node's age recipient for one key epoch. Data keys of that epoch
// are wrapped to these recipients, and each node destroys its epoch identity when the
// epoch's retention ends: that is what makes retention final (DESIGN.md).
type EpochKey struct {
	Epoch     uint64 `json:"epoch"`
	Recipient string `json:"recipient"`
}

// Type implements Payload.
func (*EpochKey) Type() Type { return TypeEpochKey }

// Validate implements Payload.
func (p *EpochKey) Validate() error {
	if len(p.Recipient) > 128 {
		return invalid("recipient", "longer than an age X25519 recipient")
	}
	if _, err := age.ParseX25519Recipient(p.Recipient); err != nil {
		return invalid("recipient", "want an age X25519 recipient (age1...)")
	}
	return nil
}

// Decide is a steering-body member's decision on a disputed nomination: the consultation
// closed without a quorum or with a blocking objection standing, and the voters settle it.
type Decide struct {
	Entry    string `json:"entry"`
	Decision string `json:"decision"`
}

// Type implements Payload.
func (*Decide) Type() Type { return TypeDecide }

// Validate implements Payload.
func (p *Decide) Validate() error {
	if err := checkID("entry", p.Entry); err != nil {
		return err
	}
	if p.Decision != "list" && p.Decision != "reject" {
		return invalid("decision", "%q: want list or reject", p.Decision)
	}
	return nil
}

// Rewrap replaces the wrapped form of one of the proposing state's subject keys with one
// wrapped to later key epochs. The data key, and so every ciphertext, stays the same; only
// the originator can rewrap, since only it may seal under the key.
type Rewrap struct {
	Key seal.WrappedKey `json:"key"`
}

// Type implements Payload.
func (*Rewrap) Type() Type { return TypeRewrap }

// Validate implements Payload.
func (p *Rewrap) Validate() error {
	if err := checkKeys([]seal.WrappedKey{p.Key}); err != nil {
		return err
	}
	if p.Key.Subject == "" {
		return invalid("key.subject", "only a subject key is rewrapped")
	}
	return nil
}

// MemberCard is what the federation records of a state it admits: the keys it signs,
// decrypts and connects with, and where its node first listens.
type MemberCard struct {
	Code         string          `json:"code"`
	Role         string          `json:"role"`
	SigningKeys  json.RawMessage `json:"signing_keys"`
	AgeRecipient string          `json:"age_recipient"`
	TLSPin       string          `json:"tls_pin"`
	RaftAddr     string          `json:"raft_addr"`
	GossipAddr   string          `json:"gossip_addr"`
	APIURL       string          `json:"api_url"`
}

func (m *MemberCard) check() error {
	if err := policy.ValidStateCode(m.Code); err != nil {
		return invalid("member.code", "%v", err)
	}
	switch policy.MemberRole(m.Role) {
	case policy.RoleVoter, policy.RoleMember, policy.RoleObserver:
	default:
		return invalid("member.role", "%q: want voter, member or observer", m.Role)
	}
	if _, err := jws.ParseKeySet(m.SigningKeys); err != nil {
		return invalid("member.signing_keys", "%v", err)
	}
	if _, err := age.ParseX25519Recipient(m.AgeRecipient); err != nil {
		return invalid("member.age_recipient", "want an age X25519 recipient")
	}
	if !strings.HasPrefix(m.TLSPin, "sha256:") || len(m.TLSPin) > 64 {
		return invalid("member.tls_pin", "want sha256:<base64>")
	}
	for _, a := range []struct{ name, v string }{{"raft_addr", m.RaftAddr}, {"gossip_addr", m.GossipAddr}} {
		if _, port, err := net.SplitHostPort(a.v); err != nil || port == "" || len(a.v) > 128 {
			return invalid("member."+a.name, "want host:port")
		}
	}
	if len(m.APIURL) > 256 || !strings.HasPrefix(m.APIURL, "https://") {
		return invalid("member.api_url", "want an https URL")
	}
	return nil
}

// Membership proposes to admit a state (with its card), to remove one, or to amend the
// federation policy. The voters decide within the consultation window, by the same rules
// as a listing; gossip never changes the roster, and nothing but an accepted proposal
// changes the policy.
//
// A policy amendment is a membership proposal rather than a command type of its own
// because it is decided exactly as admissions and removals are: the same window, the same
// votes (MemberVote), the same closing transition. One proposal kind keeps one voting
// path, which every replica must apply identically.
type Membership struct {
	ID     string      `json:"id"`
	Action string      `json:"action"` // admit, remove or policy
	Member *MemberCard `json:"member,omitempty"`
	State  string      `json:"state,omitempty"` // for remove
	// Policy is the complete federation policy an amendment proposes, not a difference:
	// every replica then installs exactly the document the voters saw.
	Policy *policy.Policy `json:"policy,omitempty"`
	// Summary is the amendment's plain-language public summary, shown with the change
	// for as long as the federation keeps its policy history.
	Summary string `json:"summary,omitempty"`
}

// Type implements Payload.
func (*Membership) Type() Type { return TypeMembership }

// Validate implements Payload.
func (p *Membership) Validate() error {
	if err := checkID("id", p.ID); err != nil {
		return err
	}
	if p.Action != "policy" && (p.Policy != nil || p.Summary != "") {
		return invalid("policy", "only a policy amendment carries a policy and a summary")
	}
	switch p.Action {
	case "admit":
		if p.Member == nil || p.State != "" {
			return invalid("member", "an admission carries the new state's card and no state")
		}
		return p.Member.check()
	case "remove":
		if p.Member != nil {
			return invalid("member", "a removal names the state only")
		}
		if err := policy.ValidStateCode(p.State); err != nil {
			return invalid("state", "%v", err)
		}
		return nil
	case "policy":
		if p.Member != nil || p.State != "" {
			return invalid("member", "a policy amendment carries the policy and its summary only")
		}
		if err := CheckSummary(p.Summary); err != nil {
			return err
		}
		if p.Policy == nil {
			return invalid("policy", "required: the complete proposed federation policy")
		}
		return checkPolicy(*p.Policy)
	}
	return invalid("action", "%q: want admit, remove or policy", p.Action)
}

// MemberVote is a voter's position on a membership proposal.
type MemberVote struct {
	Proposal string `json:"proposal"`
	Position string `json:"position"` // endorse or object
	Blocking bool   `json:"blocking,omitempty"`
}

// Type implements Payload.
func (*MemberVote) Type() Type { return TypeMemberVote }

// Validate implements Payload.
func (p *MemberVote) Validate() error {
	if err := checkID("proposal", p.ID()); err != nil {
		return err
	}
	if p.Position != "endorse" && p.Position != "object" {
		return invalid("position", "%q: want endorse or object", p.Position)
	}
	if p.Blocking && p.Position != "object" {
		return invalid("blocking", "only an objection can block")
	}
	return nil
}

// ID is the proposal voted on.
func (p *MemberVote) ID() string { return p.Proposal }

// Bounds of a policy amendment's public summary, in characters: long enough to say what
// changes and why, short enough to read in full on every member's dashboard.
const (
	MinSummary = 20
	MaxSummary = 2000
)

// markup finds what would read as an HTML or XML tag: the summary is published as plain
// text, and a tag in it would be either shown raw or, somewhere, interpreted.
var markup = regexp.MustCompile(`<[A-Za-z/!?]`)

// CheckSummary checks a policy amendment's public summary: plain text of MinSummary to
// MaxSummary characters, without control characters (other than line breaks and tabs)
// and without markup.
func CheckSummary(s string) error {
	if !utf8.ValidString(s) {
		return invalid("summary", "is not valid UTF-8 text")
	}
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	switch {
	case n == 0:
		return invalid("summary", "required: say in plain language what the amendment changes and why (%d to %d characters)", MinSummary, MaxSummary)
	case n < MinSummary || n > MaxSummary:
		return invalid("summary", "%d characters: want %d to %d", n, MinSummary, MaxSummary)
	case s != strings.TrimSpace(s):
		return invalid("summary", "starts or ends with white space")
	case markup.MatchString(s):
		return invalid("summary", "is published as plain text: leave out markup such as HTML tags")
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return invalid("summary", "contains the control character %U", r)
		}
	}
	return nil
}

// checkPolicy applies the policy package's own validation, naming the setting at fault
// under "policy." so that a caller knows which field of its proposal to correct.
func checkPolicy(p policy.Policy) error {
	err := p.Validate()
	if err == nil {
		return nil
	}
	// The policy package reports "policy: <setting>: <problem>".
	msg := strings.TrimPrefix(err.Error(), "policy: ")
	field, rest, ok := strings.Cut(msg, ": ")
	if !ok || strings.ContainsAny(field, " \"") {
		return invalid("policy", "%s", msg)
	}
	return invalid("policy."+field, "%s", rest)
}

// CheckAmendment checks a proposed policy against the policy in force. The key epoch
// never changes: data keys are wrapped to epoch numbers, and renumbering the epochs would
// strand or prematurely destroy them. A proposal identical to the policy in force would
// change nothing and is refused, so every accepted amendment is a real change.
func CheckAmendment(inForce, proposed policy.Policy) error {
	if proposed.KeyEpoch != inForce.KeyEpoch {
		return invalid("policy.key_epoch", "%s: the key epoch stays %s (keys are wrapped to epoch numbers, which must never change)", proposed.KeyEpoch, inForce.KeyEpoch)
	}
	if SamePolicy(inForce, proposed) {
		return invalid("policy", "is identical to the policy in force; propose a change")
	}
	return nil
}

// SamePolicy reports whether two policies say the same thing. An absent map and an empty
// one say the same, so they compare equal.
func SamePolicy(a, b policy.Policy) bool {
	ja, _ := json.Marshal(normalPolicy(a))
	jb, _ := json.Marshal(normalPolicy(b))
	return bytes.Equal(ja, jb)
}

func normalPolicy(p policy.Policy) policy.Policy {
	if p.Groups == nil {
		p.Groups = map[string][]string{}
	}
	if p.Retention == nil {
		p.Retention = map[string]policy.Duration{}
	}
	fd := map[string]map[string]string{}
	for k, v := range p.FieldDefaults {
		if len(v) > 0 {
			fd[k] = v
		}
	}
	p.FieldDefaults = fd
	return p
}

// SealedValues lists the sealed values p carries, by field name, with the subject whose
// data keys must seal them and the keys p carries. A ciphertext is bound to its entry and
// field by its authenticated data, so one moved elsewhere never opens; checking the key
// it names as well lets every replica refuse such a command before it is stored, rather
// than leave recipients to find it unreadable. Payloads without sealed values return no
// fields.
func SealedValues(p Payload) (subject string, fields map[string]*seal.Sealed, keys []seal.WrappedKey) {
	fields = map[string]*seal.Sealed{}
	add := func(name string, f *Field) {
		if f != nil && f.Sealed != nil {
			fields[name] = f.Sealed
		}
	}
	switch p := p.(type) {
	case *Nominate:
		for n, f := range p.Fields {
			add("fields."+n, &f)
		}
		return "watchlist/" + p.ID, fields, p.Keys
	case *Vote:
		add("reason", p.Reason)
		return "watchlist/" + p.Entry, fields, p.Keys
	case *Appeal:
		add("grounds", &p.Grounds)
		return "watchlist/" + p.Entry, fields, p.Keys
	case *Indicator:
		add("subject", &p.Subject)
		add("evidence", &p.Evidence)
		return "indicator/" + p.ID, fields, p.Keys
	}
	return "", fields, nil
}
