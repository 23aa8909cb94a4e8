import { spawn } from 'node:child_process';
const url = process.argv[2];
const child = spawn(process.execPath, ['-r', '/tmp/trace-exit.cjs', 'bin/postgate.js', 'web'], { env: { ...process.env, DATABASE_URL: url, PORT: '0', DATA_DIR: '/tmp/pgw', LOG_LEVEL: 'debug' , TOKEN_KEYS: 'k1:test-secret-key-0123456789'}, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
child.stdout.on('data', (d) => { out += d; if (out.includes('Postgate is running') && !child.sent) { child.sent = true; setTimeout(() => child.kill('SIGTERM'), 1000); } });
child.stderr.on('data', (d) => { out += d; });
child.on('exit', (code, sig) => { console.log(code, sig); console.log(out.split('\n').filter(l=>!l.includes('"request"')).slice(-60).join('\n')); });
