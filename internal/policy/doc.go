// Package policy holds stopline's compliance rules for outgoing marketing
// SMS: opt-out instructions in every message (EnsureOptOutInstructions),
// which sender types can carry marketing (CheckSender), segment counting
// (Segments) and quiet hours in the recipient's local time (Zones,
// NextAllowed).
//
// Everything here is pure and deterministic: no clock, no randomness, no
// map iteration reaches an output, so the Journey workflow may call it. The
// one outside input is the time zone database (see NextAllowed).
package policy
