-- 0009: filing for a family member (代办, docs/kiosk.md "Filing for a family
-- member"). A household member (the agent) verifies with card and finger; the
-- principal's card binds the agent's filing token to the principal
-- (filing_tokens.principal_id, once: a token bound to one principal cannot be
-- bound to another) and the filing records both: resident_id is the
-- principal, agent_resident_id the agent, agent_relation how the population
-- data relates them (household or guardian). The residents' relationship to
-- the household head and guardian's ID number are in the sealed pii blob
-- (no column: they are personal data).

ALTER TABLE filing_tokens ADD COLUMN principal_id INTEGER REFERENCES residents (id);
ALTER TABLE filing_tokens ADD COLUMN principal_relation TEXT NOT NULL DEFAULT '';
ALTER TABLE filings ADD COLUMN agent_resident_id INTEGER REFERENCES residents (id);
ALTER TABLE filings ADD COLUMN agent_relation TEXT NOT NULL DEFAULT '';
CREATE INDEX filings_agent ON filings (agent_resident_id) WHERE agent_resident_id IS NOT NULL;
