-- Several relays, their rates, and back-off per destination domain (issue 18, src/relays/store.ts owns
-- all three tables). System-wide: relays and destination domains belong to the operator, not to a
-- tenant, so no row-level security; the application role reads and writes them directly. Every
-- worker process shares them, so a relay paused or a domain in back-off is skipped by all of them.

-- A relay's health, by its name (SMTP_URLS `name=`, else host:port). `failures` counts session
-- failures (connect, greeting, TLS, AUTH) in a row; at RELAY_PAUSE_AFTER_FAILURES it is paused until
-- `paused_until` (RELAY_COOLDOWN_SECONDS); a success resets it.
CREATE TABLE relay_health (
  relay text PRIMARY KEY,
  failures integer NOT NULL DEFAULT 0,
  paused_until timestamptz,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Messages handed to a relay per second (its `rate=`), reserved in batches by every process:
-- the same scheme as rate_windows (per tenant), one row per relay and second.
CREATE TABLE relay_rate_windows (
  relay text NOT NULL,
  window_start timestamptz NOT NULL,
  used integer NOT NULL,
  last_grant integer NOT NULL DEFAULT 0,
  PRIMARY KEY (relay, window_start)
);

-- A destination domain (the part after @ of a recipient) that answered 421 or 4.7.x to a recipient:
-- nothing more goes to it until `until`; `level` doubles the wait at each new back-off (capped) and
-- starts over once the domain has been quiet for a while.
CREATE TABLE domain_throttles (
  domain text PRIMARY KEY,
  level integer NOT NULL DEFAULT 1,
  until timestamptz NOT NULL,
  reply text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX domain_throttles_until ON domain_throttles (until);

GRANT SELECT, INSERT, UPDATE, DELETE ON relay_health, relay_rate_windows, domain_throttles TO postgate_app;
