-- 0010: grid workers (docs/grid.md). A staff member of the new role
-- grid_worker keeps the residents of one grid cell (staff.grid_cell).
-- resident_changes records what a grid worker changed in a resident's record
-- (the names of the fields and the categories added or removed; the values
-- themselves stay in the sealed record), so the grid worker's list can flag a
-- household change or a new disability category. visits records the grid
-- worker's visits (the 3456 rule); the note is sealed. certifications holds
-- a pensioner's yearly proof of life (养老金领取资格认证), one row per
-- pensioner and year.
--
-- SQLite cannot change a CHECK constraint in place: staff is rebuilt. With
-- foreign keys deferred, dropping staff leaves the references of the other
-- tables dangling for a moment; they are satisfied again when the rows are
-- copied back, before the commit checks them. staff_sessions (ON DELETE
-- CASCADE) is saved and restored so nobody is logged out.

PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE staff_0010 AS SELECT * FROM staff;
CREATE TEMP TABLE staff_sessions_0010 AS SELECT * FROM staff_sessions;
DROP TABLE staff;
CREATE TABLE staff (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('station_staff', 'supervisor', 'department_officer', 'admin', 'grid_worker')),
    department    TEXT NOT NULL DEFAULT '',
    station_id    TEXT REFERENCES stations (id),
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    grid_cell     TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO staff (id, username, display_name, role, department, station_id, password_hash, disabled, created_at, updated_at)
    SELECT id, username, display_name, role, department, station_id, password_hash, disabled, created_at, updated_at FROM staff_0010;
INSERT INTO staff_sessions SELECT * FROM staff_sessions_0010 WHERE staff_id IN (SELECT id FROM staff);
DROP TABLE staff_0010;
DROP TABLE staff_sessions_0010;
CREATE INDEX staff_grid_cell ON staff (grid_cell) WHERE grid_cell <> '';

CREATE TABLE resident_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    resident_id INTEGER NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    grid_cell   TEXT NOT NULL,
    fields      TEXT NOT NULL,            -- changed fields, comma-separated: household,categories,phone
    added       TEXT NOT NULL DEFAULT '', -- categories added, comma-separated
    removed     TEXT NOT NULL DEFAULT '', -- categories removed
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX resident_changes_cell ON resident_changes (grid_cell, at);
CREATE INDEX resident_changes_resident ON resident_changes (resident_id, at);

CREATE TABLE visits (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    resident_id INTEGER NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    grid_cell   TEXT NOT NULL,
    staff_id    INTEGER NOT NULL REFERENCES staff (id),
    note        TEXT NOT NULL DEFAULT '',  -- sealed
    visited_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX visits_resident ON visits (resident_id, visited_at);
CREATE INDEX visits_cell ON visits (grid_cell, visited_at);

CREATE TABLE certifications (
    resident_id  INTEGER NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    year         INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2200),
    kiosk_id     TEXT NOT NULL REFERENCES kiosks (id),
    station_id   TEXT NOT NULL,
    certified_at INTEGER NOT NULL,
    PRIMARY KEY (resident_id, year)
) STRICT;
CREATE INDEX certifications_year ON certifications (year, resident_id);
