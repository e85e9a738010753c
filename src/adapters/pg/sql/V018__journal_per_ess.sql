-- liaison store, revision 18: the journal's exactly-once key includes the ESS the message was
-- received for. The same mail delivered to two ESS mailboxes (a requester writing to both, a
-- relay's copy) is two messages, each processed for its ESS; before, the second ESS found the
-- first one's row, never processed its copy, and a POST / of it got back the first ESS's outcome
-- (its resource ids). '' is a message journaled without one ESS (rows from before this revision,
-- unless the migration names theirs as V016 does).
ALTER TABLE message_journal
  ADD COLUMN ess text COLLATE "C" NOT NULL
    DEFAULT coalesce(nullif(current_setting('liaison.migration_ess', true), 'none'), '');
ALTER TABLE message_journal ALTER COLUMN ess SET DEFAULT '';
ALTER TABLE message_journal
  DROP CONSTRAINT message_journal_once,
  ADD CONSTRAINT message_journal_once UNIQUE (ess, message_id, content_key);
