// Package lists imports public sanctions and denied-party lists into screen.Entity values.
//
// Officers screen parties against lists published by governments and international
// bodies: the OFAC SDN and consolidated non-SDN lists (legacy CSV), the UN Security
// Council consolidated list (XML), the US Consolidated Screening List (CSV, two layouts),
// the BIS Denied Persons List (TSV) and FollowTheMoney JSON lines as published by
// OpenSanctions. Each importer maps its source onto the one Entity shape the screening
// engine understands, so the engine never has to know where a name came from.
//
// Imports are deliberately strict and deterministic. A file that does not look like the
// format it claims to be is refused with a *ParseError naming the file, the line and the
// reason, because a half-read list silently weakens screening; the node keeps serving the
// last good list instead. Entities are sorted by ID and the Result carries a content
// digest as its Version, so importing the same files twice gives the same entities in the
// same order and the same Version, and a refresh that changed nothing can be recognised.
//
// Inputs are untrusted: records over MaxRecordBytes, files over MaxFileBytes and names
// beyond MaxNames per entity are refused or dropped rather than allowed to exhaust memory,
// and large files are streamed record by record.
package lists
