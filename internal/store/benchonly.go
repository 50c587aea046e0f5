package store

// BenchPlainIntake makes SaveInbound store numbers and bodies in plain
// text, as stopline did before it sealed them, with no data key: the bench
// switches it between rounds of its webhook scenario to measure what
// sealing costs the intake. Nothing else may call it: no configuration,
// flag or environment variable reaches it, and the worker seals plain rows
// it finds (SealPlaintext).
func (s *Store) BenchPlainIntake(on bool) { s.benchPlainIntake.Store(on) }
