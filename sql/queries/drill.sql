-- owner: service/domain/drill.py
-- name: drill_offset
-- What every process's drill clock follows (a few times a second): microseconds ahead of
-- real time.
SELECT offset_us FROM drill_clock;

-- name: lock_drill_clock
-- Moves take turns here, so two at once cannot leave the clock behind either of them.
SELECT offset_us, moved_at, moved_by FROM drill_clock FOR UPDATE;

-- name: move_drill_clock
UPDATE drill_clock SET offset_us = :offset_us, moved_at = :moved_at, moved_by = :moved_by
RETURNING offset_us, moved_at, moved_by;
