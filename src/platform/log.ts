// JSON logs with pino; pretty-printed when a person is watching a terminal.
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = ['req.headers.authorization', 'authorization', 'password', '*.password', 'token', '*.token'];

export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  if (pretty) {
    return pino({ level, redact: REDACT, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino({ level, redact: REDACT });
}
