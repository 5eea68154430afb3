-- 0019: a duplicate-enrolment case belongs to a station: the station of the
-- kiosk where the enrolment was stopped (docs/roles.md: the four-eyes
-- decisions of a station are its supervisors'). Cases opened without a
-- kiosk (an administrator's bulk enrolment) have none. Existing cases take
-- their kiosk's station.

ALTER TABLE dedup_cases ADD COLUMN station_id TEXT REFERENCES stations (id);
UPDATE dedup_cases SET station_id = (SELECT k.station_id FROM kiosks k WHERE k.id = dedup_cases.kiosk_id)
    WHERE kiosk_id IS NOT NULL;
CREATE INDEX dedup_cases_station ON dedup_cases (station_id, status, id);
