package policy

import (
	"fmt"
	"time"
)

// Voting is how the federation decides: how many voters must endorse a nomination for it
// to be listed, whether one voter's objection can block it, and the deadlines of the
// watchlist lifecycle. It is part of the replicated federation policy and changes only by
// a voted proposal.
type Voting struct {
	// Quorum is how many voters must endorse a nomination (the originator's nomination
	// counts as its endorsement when it is a voter). Zero means a majority of the voters.
	Quorum int `json:"quorum" yaml:"quorum"`
	// BlockingObjections lets a single voter's blocking objection stop a listing; the
	// nomination is then disputed and the steering body decides.
	BlockingObjections bool `json:"blocking_objections" yaml:"blocking_objections"`
	// Consultation is how long members may endorse or object after a nomination.
	Consultation Duration `json:"consultation" yaml:"consultation"`
	// Review is how long a listing stands before its review falls due.
	Review Duration `json:"review" yaml:"review"`
	// Grace is how long a listing whose review fell due may wait for renewal before it
	// expires.
	Grace Duration `json:"grace" yaml:"grace"`
	// Appeal is how long voters may decide an appeal.
	Appeal Duration `json:"appeal" yaml:"appeal"`
	// ChairRotation is how long one voter holds the chair (raft leadership) before it
	// passes to the next voter in roster order.
	ChairRotation Duration `json:"chair_rotation" yaml:"chair_rotation"`
}

// DefaultVoting is modelled on the export-control denial consultation: ten days to
// consult, three years to review.
func DefaultVoting() Voting {
	return Voting{
		BlockingObjections: true,
		Consultation:       Duration(10 * Day),
		Review:             Duration(3 * Year),
		Grace:              Duration(90 * Day),
		Appeal:             Duration(30 * Day),
		ChairRotation:      Duration(90 * Day),
	}
}

// votingFile is the voting section as written; absent keys keep their defaults.
type votingFile struct {
	Quorum             *int      `yaml:"quorum"`
	BlockingObjections *bool     `yaml:"blocking_objections"`
	Consultation       *Duration `yaml:"consultation"`
	Review             *Duration `yaml:"review"`
	Grace              *Duration `yaml:"grace"`
	Appeal             *Duration `yaml:"appeal"`
	ChairRotation      *Duration `yaml:"chair_rotation"`
}

func (f *votingFile) apply(v *Voting) {
	if f.Quorum != nil {
		v.Quorum = *f.Quorum
	}
	if f.BlockingObjections != nil {
		v.BlockingObjections = *f.BlockingObjections
	}
	for _, d := range []struct {
		src *Duration
		dst *Duration
	}{{f.Consultation, &v.Consultation}, {f.Review, &v.Review}, {f.Grace, &v.Grace}, {f.Appeal, &v.Appeal}, {f.ChairRotation, &v.ChairRotation}} {
		if d.src != nil {
			*d.dst = *d.src
		}
	}
}

// validate names the first bad voting setting. Deadlines may be as short as a second so
// that test federations can run a whole lifecycle in seconds.
func (v Voting) validate() error {
	if v.Quorum < 0 || v.Quorum > 1000 {
		return fmt.Errorf("policy: voting.quorum: %d: want 0 (a majority of the voters) or a number of voters", v.Quorum)
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"consultation", v.Consultation}, {"review", v.Review}, {"grace", v.Grace}, {"appeal", v.Appeal}, {"chair_rotation", v.ChairRotation}} {
		if time.Duration(d.v) < time.Second || time.Duration(d.v) > 20*Year {
			return fmt.Errorf("policy: voting.%s: %s: want between 1s and 20y", d.name, d.v)
		}
	}
	return nil
}

// EndorsementsNeeded is how many voters must endorse a nomination when the roster has
// voters voters. A quorum larger than the roster cannot be met, so it is capped at all
// voters.
func (v Voting) EndorsementsNeeded(voters int) int {
	if voters <= 0 {
		return 1
	}
	if v.Quorum == 0 {
		return voters/2 + 1
	}
	return min(v.Quorum, voters)
}

// Listed decides a closed consultation: listed when enough voters endorsed and, where
// blocking objections count, no voter blocked. Otherwise the nomination is disputed.
func (v Voting) Listed(endorsingVoters, blockingObjections, voters int) bool {
	if v.BlockingObjections && blockingObjections > 0 {
		return false
	}
	return endorsingVoters >= v.EndorsementsNeeded(voters)
}

// Delisted decides a closed appeal: delisted when more voters voted to delist than to
// uphold. A tie, or no votes, upholds the listing: a listing stands until a majority of
// those who decide says otherwise.
func (v Voting) Delisted(delist, uphold int) bool { return delist > uphold }
