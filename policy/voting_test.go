package policy

import (
	"strings"
	"testing"
	"time"
)

func TestListed(t *testing.T) {
	maj := DefaultVoting()
	two := DefaultVoting()
	two.Quorum = 2
	noBlock := DefaultVoting()
	noBlock.BlockingObjections = false
	cases := []struct {
		name                      string
		v                         Voting
		endorse, blocking, voters int
		want                      bool
	}{
		{"majority of 3 met", maj, 2, 0, 3, true},
		{"majority of 3 missed", maj, 1, 0, 3, false},
		{"majority of 4 needs 3", maj, 2, 0, 4, false},
		{"majority of 5 met", maj, 3, 0, 5, true},
		{"blocked", maj, 3, 1, 3, false},
		{"blocking off", noBlock, 2, 1, 3, true},
		{"fixed quorum 2 of 5", two, 2, 0, 5, true},
		{"fixed quorum 2 of 5 missed", two, 1, 0, 5, false},
		{"quorum capped at the roster", Voting{Quorum: 9}, 3, 0, 3, true},
		{"no voters needs one", maj, 0, 0, 0, false},
	}
	for _, tc := range cases {
		if got := tc.v.Listed(tc.endorse, tc.blocking, tc.voters); got != tc.want {
			t.Errorf("%s: Listed(%d, %d, %d) = %v", tc.name, tc.endorse, tc.blocking, tc.voters, got)
		}
	}
}

func TestDelisted(t *testing.T) {
	v := DefaultVoting()
	for _, tc := range []struct {
		delist, uphold int
		want           bool
	}{{2, 1, true}, {1, 1, false}, {0, 0, false}, {1, 2, false}, {1, 0, true}} {
		if got := v.Delisted(tc.delist, tc.uphold); got != tc.want {
			t.Errorf("Delisted(%d, %d) = %v", tc.delist, tc.uphold, got)
		}
	}
}

func TestVotingPolicyParse(t *testing.T) {
	p, err := ParsePolicy([]byte("voting:\n  quorum: 2\n  consultation: 5s\n  blocking_objections: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Voting.Quorum != 2 || time.Duration(p.Voting.Consultation) != 5*time.Second || p.Voting.BlockingObjections {
		t.Fatalf("voting = %+v", p.Voting)
	}
	if p.Voting.Review != DefaultVoting().Review {
		t.Fatalf("an absent key lost its default: %+v", p.Voting)
	}
	for doc, want := range map[string]string{
		"voting:\n  quorum: -1\n":         "voting.quorum",
		"voting:\n  consultation: 10ms\n": "voting.consultation",
		"voting:\n  review: 30y\n":        "voting.review",
		"voting:\n  chair_rotation: 0s\n": "voting.chair_rotation",
		"voting:\n  quorom: 2\n":          "quorom",
	} {
		if _, err := ParsePolicy([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to name %s", doc, err, want)
		}
	}
}
