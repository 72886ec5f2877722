package node_test

import (
	"testing"
	"time"
)

// TestChairSaysWhenItsPeriodBegan: the chair's node reports when its period in the chair
// began, in its status and in the members list, so a dashboard can tell exactly when
// the chair passes on.
func TestChairSaysWhenItsPeriodBegan(t *testing.T) {
	before := time.Now()
	tn := startFederatedNode(t)
	eventually(t, "the chair to report when its period began", func() (bool, string) {
		st, err := tn.n.FederationStatus()
		if err != nil {
			return false, err.Error()
		}
		return !st.ChairSince.IsZero(), st.Role
	})
	st, _ := tn.n.FederationStatus()
	if st.ChairSince.Before(before.Add(-time.Second)) || st.ChairSince.After(time.Now()) {
		t.Fatalf("chair since %s, want between %s and now", st.ChairSince, before)
	}
	ms, err := tn.n.FederationMembers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || !ms[0].Leader || !ms[0].ChairSince.Equal(st.ChairSince) {
		t.Fatalf("members %+v, want FRA in the chair since %s", ms, st.ChairSince)
	}
}
