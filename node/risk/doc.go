// Package risk computes the federation's shared licence-application risk score: a number
// from 0 to 100, a band (low, medium, high, deny-recommended) and the reasons that add up
// to it.
//
// The score is advice to a licensing officer, and officers of different states must be
// able to compare their answers, so Assess is a pure function: the assessment time is an
// argument, nothing reads a clock, a file or the network, and the output never depends on
// the order of the input lists. The model, its weights and worked examples are described
// in docs/risk.md; a change to any weight is a new Model version.
package risk
