-- The drill clock (演练, API.md "Drill clock"): with FESTIVAL_DRILL the festival's business
-- time is real time plus this offset. One row, there from the start (offset 0), so a move
-- locks it to take its turn; the offset only grows, so the festival's clock never goes back.
CREATE TABLE drill_clock (
    singleton  boolean PRIMARY KEY DEFAULT true,
    offset_us  bigint NOT NULL,
    moved_at   timestamptz,
    moved_by   text,
    CONSTRAINT drill_clock_one_row CHECK (singleton),
    CONSTRAINT drill_clock_offset_forward CHECK (offset_us >= 0),
    CONSTRAINT drill_clock_moved_together CHECK ((moved_at IS NULL) = (moved_by IS NULL))
);
INSERT INTO drill_clock (offset_us) VALUES (0);
