-- 0010: grid workers (docs/grid.md). A staff member of the new role
-- grid_worker keeps the residents of one grid cell (staff.grid_cell).
-- resident_changes records what a grid worker changed in a resident's record
-- (the names of the fields and the categories added or removed; the values
-- themselves stay in the sealed record), so the grid worker's list can flag a
-- household change or a new disability category. visits records the grid
-- worker's visits (the 3456 rule); the note is sealed. certifications holds
-- a pensioner's yearly proof of life (养老金领取资格认证), one row per
-- pensioner and year.

ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check
    CHECK (role IN ('station_staff', 'supervisor', 'department_officer', 'admin', 'grid_worker'));
ALTER TABLE staff ADD COLUMN grid_cell TEXT NOT NULL DEFAULT '';
CREATE INDEX staff_grid_cell ON staff (grid_cell) WHERE grid_cell <> '';

CREATE TABLE resident_changes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id BIGINT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    grid_cell   TEXT NOT NULL,
    fields      TEXT NOT NULL,            -- changed fields, comma-separated: household,categories,phone
    added       TEXT NOT NULL DEFAULT '', -- categories added, comma-separated
    removed     TEXT NOT NULL DEFAULT '', -- categories removed
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX resident_changes_cell ON resident_changes (grid_cell, at);
CREATE INDEX resident_changes_resident ON resident_changes (resident_id, at);

CREATE TABLE visits (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id BIGINT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    grid_cell   TEXT NOT NULL,
    staff_id    BIGINT NOT NULL REFERENCES staff (id),
    note        TEXT NOT NULL DEFAULT '',  -- sealed
    visited_at  TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX visits_resident ON visits (resident_id, visited_at);
CREATE INDEX visits_cell ON visits (grid_cell, visited_at);

CREATE TABLE certifications (
    resident_id  BIGINT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    year         INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2200),
    kiosk_id     TEXT NOT NULL REFERENCES kiosks (id),
    station_id   TEXT NOT NULL,
    certified_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (resident_id, year)
);
CREATE INDEX certifications_year ON certifications (year, resident_id);
