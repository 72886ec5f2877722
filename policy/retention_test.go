package policy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"720h", 720 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"2s", 2 * time.Second, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"30d", 30 * 24 * time.Hour, ""},
		{"1d", 24 * time.Hour, ""},
		{"3y", 3 * 365 * 24 * time.Hour, ""},
		{"10y", 10 * 365 * 24 * time.Hour, ""},
		{" 5y ", 5 * 365 * 24 * time.Hour, ""},
		{"-1d", -24 * time.Hour, ""},
		{"292y", 292 * 365 * 24 * time.Hour, ""},
		{"293y", 0, "too long"},
		{"106752d", 0, "too long"},
		{"", 0, "want a Go duration"},
		{"d", 0, "want a Go duration"},
		{"y", 0, "want a Go duration"},
		{"720", 0, "want a Go duration"},
		{"1.5d", 0, "want a Go duration"},
		{"1y2d", 0, "want a Go duration"},
		{"3Y", 0, "want a Go duration"},
		{"3 y", 0, "want a Go duration"},
		{"ten years", 0, "want a Go duration"},
		{"1w", 0, "want a Go duration"},
		{"9999999999999999999h", 0, "want a Go duration"},
		{strings.Repeat("1", 65) + "d", 0, "at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || time.Duration(got) != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, time.Duration(got), err, tt.want)
			}
		})
	}
}

func TestDurationStringRoundTrip(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{10 * Year, "10y"},
		{Year, "1y"},
		{30 * Day, "30d"},
		{366 * Day, "366d"},
		{730 * Day, "2y"},
		{36 * time.Hour, "36h0m0s"},
		{90 * time.Minute, "1h30m0s"},
		{1500 * time.Millisecond, "1.5s"},
		{-2 * Day, "-2d"},
	}
	for _, tt := range tests {
		d := Duration(tt.d)
		if got := d.String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, got, tt.want)
		}
		b, err := d.MarshalText()
		if err != nil || string(b) != tt.want {
			t.Errorf("MarshalText = %q, %v", b, err)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back, err, d)
		}
	}
}

func TestDurationYAMLAndJSON(t *testing.T) {
	type doc struct {
		D Duration `json:"d" yaml:"d"`
	}
	tests := []struct {
		yaml    string
		want    time.Duration
		wantErr string
	}{
		{"d: 720h\n", 720 * time.Hour, ""},
		{"d: 90d\n", 90 * Day, ""},
		{"d: 3y\n", 3 * Year, ""},
		{"d: \"5y\"\n", 5 * Year, ""},
		{"d: 720\n", 0, "line 1"},
		{"d: [1y]\n", 0, "want a duration"},
		{"d: {y: 1}\n", 0, "want a duration"},
		{"\nd: soon\n", 0, "line 2"},
	}
	for _, tt := range tests {
		var got doc
		err := yaml.Unmarshal([]byte(tt.yaml), &got)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("yaml %q: err = %v, want containing %q", tt.yaml, err, tt.wantErr)
			}
			continue
		}
		if err != nil || time.Duration(got.D) != tt.want {
			t.Errorf("yaml %q = %v, %v; want %v", tt.yaml, time.Duration(got.D), err, tt.want)
		}
	}

	out, err := yaml.Marshal(doc{D: Duration(10 * Year)})
	if err != nil || string(out) != "d: 10y\n" {
		t.Errorf("yaml.Marshal = %q, %v", out, err)
	}
	j, err := json.Marshal(doc{D: Duration(30 * Day)})
	if err != nil || string(j) != `{"d":"30d"}` {
		t.Errorf("json.Marshal = %s, %v", j, err)
	}
	var jd doc
	if err := json.Unmarshal([]byte(`{"d":"2y"}`), &jd); err != nil || time.Duration(jd.D) != 2*Year {
		t.Errorf("json.Unmarshal 2y = %v, %v", jd.D, err)
	}
	if err := json.Unmarshal([]byte(`{"d":3600}`), &jd); err == nil {
		t.Error("json.Unmarshal accepted a bare number")
	}
}

func TestRetentionFor(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		kind string
		want time.Duration
	}{
		{"licence-application", 10 * Year},
		{"licence-decision", 10 * Year},
		{"end-use-check", 10 * Year},
		{"consignment", 7 * Year},
		{"procurement-award", 10 * Year},
		{"denied-party", 5 * Year},
		{"end-user-of-concern", 5 * Year},
		{"debarred-supplier", 5 * Year},
		{"indicator", 2 * Year},
		{"audit", 20 * Year},
		{"something-new", 5 * Year},
		{"", 5 * Year},
	}
	for _, tt := range tests {
		if got := p.RetentionFor(tt.kind); got != tt.want {
			t.Errorf("RetentionFor(%q) = %v, want %v", tt.kind, Duration(got), Duration(tt.want))
		}
	}
	p.Retention["indicator"] = 0 // invalid; must not mean "keep for zero time"
	if got := p.RetentionFor("indicator"); got != DefaultRetention {
		t.Errorf("RetentionFor with a zero setting = %v, want the default", got)
	}
	if got := (Policy{}).RetentionFor("audit"); got != DefaultRetention {
		t.Errorf("zero policy RetentionFor = %v", got)
	}
}

func TestEpoch(t *testing.T) {
	day := Policy{KeyEpoch: Duration(Day)}
	hour := Policy{KeyEpoch: Duration(time.Hour)}
	tests := []struct {
		name string
		p    Policy
		t    time.Time
		want uint64
	}{
		{"unix zero", day, time.Unix(0, 0), 0},
		{"before 1970", day, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{"one second before 1970", day, time.Unix(-1, 0), 0},
		{"last second of epoch 0", day, time.Unix(86399, 999999999), 0},
		{"first second of epoch 1", day, time.Unix(86400, 0), 1},
		{"hour epochs", hour, time.Unix(3*3600+59, 0), 3},
		{"time zone does not matter", day, time.Unix(86400, 0).In(time.FixedZone("X", -11*3600)), 1},
		{"default 7d", DefaultPolicy(), time.Unix(7*86400-1, 0), 0},
		{"default 7d next", DefaultPolicy(), time.Unix(7*86400, 0), 1},
		{"2025", DefaultPolicy(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 1735689600 / (7 * 86400)},
		{"invalid epoch falls back to 7d", Policy{}, time.Unix(7*86400, 0), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Epoch(tt.t); got != tt.want {
				t.Errorf("Epoch(%v) = %d, want %d", tt.t, got, tt.want)
			}
		})
	}
}

func TestEpochKeyExpiry(t *testing.T) {
	p := Policy{KeyEpoch: Duration(Day), Retention: map[string]Duration{"indicator": Duration(2 * Day)}}
	tests := []struct {
		name  string
		kind  string
		epoch uint64
		want  time.Time
	}{
		{"epoch 0", "indicator", 0, time.Unix(86400+2*86400, 0).UTC()},
		{"epoch 10", "indicator", 10, time.Unix(11*86400+2*86400, 0).UTC()},
		{"default retention", "other", 0, time.Unix(86400, 0).UTC().Add(5 * Year)},
		{"huge epoch saturates", "indicator", ^uint64(0), time.Unix(maxEpochEnd, 0).UTC().Add(2 * Day)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.EpochKeyExpiry(tt.kind, tt.epoch)
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("EpochKeyExpiry(%s, %d) = %v, want %v (UTC)", tt.kind, tt.epoch, got, tt.want)
			}
		})
	}
	// Property: every value created in an epoch has expired when the epoch's keys go.
	for _, created := range []time.Time{time.Unix(0, 0), time.Unix(86399, 999), time.Unix(5*86400+1, 0)} {
		e := p.Epoch(created)
		expiry := p.EpochKeyExpiry("indicator", e)
		if !p.Expired("indicator", created, expiry) {
			t.Errorf("value created %v in epoch %d has not expired at key expiry %v", created, e, expiry)
		}
	}
}

func TestExpired(t *testing.T) {
	p := Policy{Retention: map[string]Duration{"indicator": Duration(2 * Day)}}
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"at creation", created, false},
		{"one ns before", created.Add(2*Day - 1), false},
		{"exactly at retention", created.Add(2 * Day), true},
		{"after", created.Add(3 * Day), true},
		{"now before created", created.Add(-time.Hour), false},
		{"other zone same instant", created.Add(2 * Day).In(time.FixedZone("Y", 5*3600)), true},
	}
	for _, tt := range tests {
		if got := p.Expired("indicator", created, tt.now); got != tt.want {
			t.Errorf("%s: Expired = %v, want %v", tt.name, got, tt.want)
		}
	}
	if p.Expired("licence-application", created, created.Add(5*Year-1)) {
		t.Error("unknown kind expired before the 5y default")
	}
	if !p.Expired("licence-application", created, created.Add(5*Year)) {
		t.Error("unknown kind not expired at the 5y default")
	}
}
