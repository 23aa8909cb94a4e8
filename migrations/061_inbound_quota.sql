-- Inbound quota (issue 12): reports accepted by the inbound SMTP listener per token per hour
-- (INBOUND_REPORTS_PER_TOKEN_HOUR), shared by every process that runs the listener. One row per key
-- ('verp:<message id>' or 'unsub:<contact id>') and clock hour. inbound_quota_take() counts one
-- report and says whether it is within the limit; it also deletes, now and then, the rows of hours
-- that are over (they are useless), so the table stays small without a separate job.
-- System-wide (no tenant): the application role reaches it only through the SECURITY DEFINER function.
CREATE TABLE inbound_quota (
  key text NOT NULL,
  window_start timestamptz NOT NULL,
  used integer NOT NULL,
  PRIMARY KEY (key, window_start)
);
CREATE INDEX inbound_quota_window ON inbound_quota (window_start);

CREATE FUNCTION inbound_quota_take(p_key text, p_limit integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public AS $$
DECLARE v_used integer;
BEGIN
  INSERT INTO inbound_quota AS q (key, window_start, used)
    VALUES (left(p_key, 200), date_trunc('hour', clock_timestamp()), 1)
  ON CONFLICT (key, window_start) DO UPDATE SET used = q.used + 1
  RETURNING used INTO v_used;
  IF v_used = 1 AND random() < 0.05 THEN
    DELETE FROM inbound_quota WHERE window_start < date_trunc('hour', clock_timestamp()) - interval '1 hour';
  END IF;
  RETURN v_used <= p_limit;
END $$;
REVOKE ALL ON FUNCTION inbound_quota_take(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION inbound_quota_take(text, integer) TO postgate_app;
