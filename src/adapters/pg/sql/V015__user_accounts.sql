-- liaison store, revision 15: people's local accounts and their browser sessions (issue 14).
--
-- Accounts are managed by `liaison user …`, run by an operator with the database owner's role;
-- the gateway (liaison_gateway) only checks them. Least privilege, column by column:
--  * it reads what a login and a session need, the password hash included (it verifies it: no
--    way around reading it short of a SECURITY DEFINER function that would hand it out alike);
--  * it updates only the login bookkeeping (failures, lock-out); never the name, roles, ESS,
--    `disabled` nor the hash: a compromised gateway can neither create an account, nor give one
--    more rights, nor set a password it knows (an older hash is rehashed by `liaison user
--    passwd`; `liaison user list` says which need it);
--  * sessions are the gateway's own: created at login, touched, deleted at logout or expiry
--    (a gateway that logs people in can mint sessions: that right cannot be taken from it).
CREATE TABLE user_account (
  name                text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
  password_hash       text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  roles               text[]      NOT NULL DEFAULT '{}',
  ess                 text[]      NOT NULL DEFAULT '{}',
  disabled            boolean     NOT NULL DEFAULT false,
  failed_logins       integer     NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  locked_until        timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  password_changed_at timestamptz NOT NULL DEFAULT now()
);

-- A session is known by the SHA-256 of its opaque token: the token itself (the cookie) is never
-- stored, so that whoever reads this table cannot log in as anyone. The CSRF token is derived
-- from the session token (SHA-256 of a label and the token): nothing more to store, and it
-- dies with its session.
CREATE TABLE user_session (
  token_sha256       bytea       PRIMARY KEY CHECK (length(token_sha256) = 32),
  account            text        NOT NULL REFERENCES user_account (name) ON DELETE CASCADE,
  created_at         timestamptz NOT NULL DEFAULT now(),
  last_seen_at       timestamptz NOT NULL DEFAULT now(),
  idle_expires_at    timestamptz NOT NULL,
  absolute_expires_at timestamptz NOT NULL,
  client_address     text        NOT NULL DEFAULT ''
);
CREATE INDEX user_session_account ON user_session (account);
CREATE INDEX user_session_expiry ON user_session (absolute_expires_at);

GRANT SELECT ON user_account TO liaison_gateway;
GRANT UPDATE (failed_logins, locked_until) ON user_account
  TO liaison_gateway;
GRANT SELECT, INSERT, DELETE ON user_session TO liaison_gateway;
GRANT UPDATE (last_seen_at, idle_expires_at) ON user_session TO liaison_gateway;
