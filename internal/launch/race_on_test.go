//go:build race

package launch_test

// raceEnabled: the race detector slows phone parsing (regexp heavy) about
// 25 times, so the large-audience test reads fewer rows under it.
const raceEnabled = true
