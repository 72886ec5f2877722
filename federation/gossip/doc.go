// Package gossip tells a node which federation members are alive and where to reach them
// (API URL, raft address), using hashicorp/memberlist over the federation's gossip port.
//
// Why gossip at all: raft needs peer addresses and the proposal path needs the leader's
// API URL, and both change (restarts, new hosts) faster than a voted roster change should.
// Gossip spreads that operational detail and detects failures in O(log N) rounds without a
// central directory.
//
// Why it is kept powerless: gossip is only as trustworthy as the least careful holder of
// the shared gossip key. So it NEVER changes the roster, voters or decryption rights;
// admission of a state is a voted, replicated command (federation/command). Gossip only
// reports who is alive where, and only metadata that verifies against the replicated
// roster is reported as Verified and offered to callers through Member.
//
// Two layers of protection, because they stop different attackers:
//
//   - Every packet and stream is AES-256-GCM encrypted and authenticated with the
//     federation's 32-byte gossip key (memberlist keyring, GossipVerifyIncoming and
//     GossipVerifyOutgoing on, a fixed label as associated data). A host without the key
//     cannot join, and its packets are dropped before they are parsed.
//   - Every node's metadata (Meta) is signed with the node's Ed25519 signing key as a
//     detached JWS and verified against Roster.SigningKeys(state) on every membership
//     event and again on every query, so a roster change (a rotated or revoked key) takes
//     effect at once. A key holder who is not on the roster shows up as Verified=false, so
//     operators see it, but it is never used. A key holder who claims the name of a
//     roster state without that state's signature is refused outright (memberlist never
//     tracks it), so it cannot squat the name and lock the real state out.
//
// Wire format of the metadata (memberlist NodeMeta, at most memberlist.MetaMaxSize = 512
// bytes):
//
//	0x01 || uint16 big-endian n || meta JSON (n bytes) || detached compact JWS (ASCII)
//
// The meta JSON is the canonical encoding/json form of Meta (fixed member order, no
// spaces); decoding re-encodes and requires identical bytes, so one Meta has exactly one
// accepted encoding and duplicate, unknown or case-folded members are refused. The JWS
// signs "entente-gossip-meta/1\n" || meta JSON: the prefix separates gossip metadata
// from API responses signed with the same node key, so neither can be replayed as the
// other. Field limits (see Meta) guarantee that every valid Meta fits in 512 bytes.
package gossip
