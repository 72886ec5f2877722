package node

import (
	"errors"
	"fmt"
	"testing"

	"github.com/entente/entente/federation"
	"github.com/entente/entente/federation/command"
	"github.com/entente/entente/node/api"
)

// A proposal that fails after it was handed on must say its outcome is unknown, never
// that nothing was written: the robustness round saw such "failed" writes applied.
func TestFedErrorOutcomes(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("forward to the leader DEU: %w", errors.New("EOF")), 503, "outcome_unknown"},
		{errors.New("leadership lost while committing log"), 503, "outcome_unknown"},
		{fmt.Errorf("x: %w", federation.ErrNoLeader), 503, "no_leader"},
		{fmt.Errorf("x: %w", command.ErrInvalid), 400, "invalid_command"},
	} {
		var ae *api.Error
		if !errors.As(fedError(c.err), &ae) || ae.Status != c.status || ae.Code != c.code {
			t.Errorf("%v: got %+v, want %d %s", c.err, ae, c.status, c.code)
		}
	}
}
