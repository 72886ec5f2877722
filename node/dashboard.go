package node

import (
	"github.com/entente/entente/node/ui"
	"github.com/entente/entente/policy"
)

// The node is the dashboard's service: the API's methods plus the reads below, which
// only the dashboard needs.
var _ ui.Service = (*Node)(nil)

// FederationPolicy is the replicated federation policy in force, which the dashboard
// shows and uses to say what each dispute and appeal needs.
func (n *Node) FederationPolicy() (policy.Policy, error) {
	f, err := n.federation()
	if err != nil {
		return policy.Policy{}, err
	}
	return f.State().Policy(), nil
}

// CommandProofs checks the originator's signature of each replicated command at indices
// against that state's keys on the replicated roster, so the dashboard can show every
// vote with its verified signature. Commands already purged are left out.
func (n *Node) CommandProofs(indices []uint64) ([]ui.CommandProof, error) {
	f, err := n.federation()
	if err != nil {
		return nil, err
	}
	st := f.State()
	out := make([]ui.CommandProof, 0, len(indices))
	for _, idx := range indices {
		c, ok, err := st.SignedCommand(idx)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		p := ui.CommandProof{Index: idx, Type: c.Type.String(), Origin: c.Origin, Signature: c.Signature}
		keys, _ := st.SigningKeys(c.Origin)
		if kid, err := c.Verify(keys); err != nil {
			p.Problem = err.Error()
		} else {
			p.Verified, p.KeyID = true, kid
		}
		out = append(out, p)
	}
	return out, nil
}

// Chair is the state whose node leads raft now, or "" while an election is under way.
func (n *Node) Chair() (string, error) {
	f, err := n.federation()
	if err != nil {
		return "", err
	}
	m, ok := f.Leader()
	if !ok {
		return "", nil
	}
	return m.Code, nil
}
