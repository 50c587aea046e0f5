-- Double opt-in: an opt-in to a double opt-in program is 'pending' until the
-- recipient confirms it ('confirmed'). Journeys record their category so an
-- opt-out in a program whose STOP blocks marketing only leaves transactional
-- journeys running.
ALTER TABLE consent DROP CONSTRAINT consent_state_check;
ALTER TABLE consent ADD CONSTRAINT consent_state_check
    CHECK (state IN ('opted_in', 'opted_out', 'pending', 'confirmed'));
ALTER TABLE active_journeys ADD COLUMN category text NOT NULL DEFAULT 'marketing';
