#!/usr/bin/env bash
# The PgBouncer suite (issue 18): the integration tests of vitest.pgbouncer.config.ts against a
# standalone PostgreSQL server (Debian's `postgresql`) reached through PgBouncer in transaction
# pooling (Debian's `pgbouncer`), with the app's own non-superuser logins (test/support/external-pg.ts).
#
# Run as root (as CI does): installs the two packages only when missing, makes a throw-away cluster
# and a PgBouncer in a temporary directory (both run as the `postgres` OS user: PgBouncer refuses
# root), runs the suite, and stops and removes everything, whatever the outcome. Extra arguments go
# to vitest (e.g. a test file). Loopback only; fsync is off (a test cluster).
set -euo pipefail
cd "$(dirname "$0")/.."

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
missing=()
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if [ ${#missing[@]} -gt 0 ]; then
  echo "standalone-pg: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
PGBIN=$(pg_bin)
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
id postgres >/dev/null 2>&1 || { echo "standalone-pg: no postgres OS user (the postgresql package makes it)"; exit 1; }
# As the postgres OS user, from a directory it may enter (the clone may sit under a 0700 directory).
as_pg() { (cd "$DIR" && runuser -u postgres -- "$@"); }

free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
secret() { node -e "console.log(require('crypto').randomBytes(18).toString('base64url'))"; }

DIR=$(mktemp -d /tmp/postgate-standalone-XXXXXX)
chmod 755 "$DIR"
chown postgres: "$DIR"
PGPORT=$(free_port)
BOUNCER_PORT=$(free_port)
ADMIN_PW=$(secret); OWNER_PW=$(secret); RUNTIME_PW=$(secret)

cleanup() {
  local rc=$?
  [ -f "$DIR/pgbouncer.pid" ] && kill "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  if [ $rc -ne 0 ]; then
    echo "standalone-pg: failed ($rc); last lines of the server and PgBouncer logs:"
    tail -n 20 "$DIR/postgres.log" "$DIR/pgbouncer.log" 2>/dev/null || true
  fi
  rm -rf "$DIR"
  exit $rc
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# The cluster: superuser `postgres` with a password (SCRAM over TCP), sockets in $DIR only.
printf '%s\n' "$ADMIN_PW" > "$DIR/pwfile"; chown postgres: "$DIR/pwfile"; chmod 600 "$DIR/pwfile"
as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres --pwfile="$DIR/pwfile" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
rm -f "$DIR/pwfile"
cat >> "$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$DIR'
max_connections = 400
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
EOF
as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 start >/dev/null
psql_su() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PGPORT" -U postgres -d postgres "$@"; }

# The app's logins (README "External PostgreSQL", split): the schema owner, a plain role that owns
# the test databases, and the runtime login, a member of postgate_app. Neither is a superuser.
psql_su -v owner_pw="$OWNER_PW" -v runtime_pw="$RUNTIME_PW" <<'SQL'
CREATE ROLE postgate_app NOLOGIN;
CREATE ROLE postgate_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'owner_pw';
CREATE ROLE postgate_runtime LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'runtime_pw';
GRANT postgate_app TO postgate_runtime;
-- Migration 001 grants postgate_app to the migrating role: without CREATEROLE it needs the admin option.
GRANT postgate_app TO postgate_owner WITH ADMIN OPTION;
SQL

# PgBouncer: transaction pooling, any database (per-test databases), SCRAM secrets copied from the
# server (so it also logs in to the server with the client's SCRAM keys; no password in clear).
# `postgres` is there only for the admin console (SHOW CLIENTS: test/platform/direct-url.test.ts).
psql_su -At -c "SELECT format('\"%s\" \"%s\"', rolname, rolpassword) FROM pg_authid WHERE rolname IN ('postgres', 'postgate_runtime') ORDER BY 1" > "$DIR/userlist.txt"
cat > "$DIR/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PGPORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $DIR/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
EOF
chown postgres: "$DIR/pgbouncer.ini" "$DIR/userlist.txt"
chmod 600 "$DIR/userlist.txt"
as_pg "$PGBOUNCER" -d "$DIR/pgbouncer.ini"
for _ in $(seq 1 50); do [ -f "$DIR/pgbouncer.pid" ] && break; sleep 0.1; done

echo "standalone-pg: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT, $("$PGBOUNCER" --version | head -n 1) on 127.0.0.1:$BOUNCER_PORT (pool_mode=transaction)"
export POSTGATE_TEST_PG_ADMIN_URL="postgres://postgres:$ADMIN_PW@127.0.0.1:$PGPORT/postgres"
export POSTGATE_TEST_PGBOUNCER="127.0.0.1:$BOUNCER_PORT"
export POSTGATE_TEST_PG_OWNER="postgate_owner:$OWNER_PW"
export POSTGATE_TEST_PG_RUNTIME="postgate_runtime:$RUNTIME_PW"
npx vitest run -c vitest.pgbouncer.config.ts "$@"
