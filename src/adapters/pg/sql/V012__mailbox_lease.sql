-- liaison store, revision 12: who polls each mailbox. Two gateways on one database (high
-- availability, rolling upgrades) take turns on a mailbox through a lease row: the holder renews
-- it before every batch and between polls; once it stops renewing (killed, stuck, cut off from
-- the database) the lease runs out and another gateway takes the mailbox over. A row rather than
-- a session advisory lock: a lock outlives a holder that is stuck but still connected (a hung IMAP
-- command, a wedged thread) for as long as its connection stays up, and vanishes with a dropped
-- connection even when the holder is still polling; the row's expiry bounds the first case, and
-- its holder column lets the holder see that it lost the mailbox (fencing). Correctness does not
-- rest on it (the journal, the outcomes and the outbox are exactly-once by themselves): the
-- lease keeps two gateways from fetching, moving and processing the same messages side by side.
-- Times are the database's own now(), never the gateways' clocks.
CREATE TABLE mailbox_lease (
  mailbox     text        PRIMARY KEY COLLATE "C",  -- the mailbox's configured name
  holder      text        NOT NULL,                 -- host:pid:nonce of the gateway
  lease_until timestamptz NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),   -- when this holder took it
  renewed_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON mailbox_lease TO liaison_gateway;
