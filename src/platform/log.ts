// JSON logs with pino; pretty-printed when a person is watching a terminal.
// No card number reaches a log line: every string in the logged object, the message, the
// interpolation arguments and a child's bindings is passed through policy/cards redactCardNumbers
// (hooks.logMethod, formatters.log, formatters.bindings, child()), before the REDACT paths apply.
import { pino, type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { redactCardData } from '../policy/cards.js';

export type { Logger };

const REDACT = ['req.headers.authorization', 'authorization', 'password', '*.password', 'token', '*.token'];

const CARD_SAFE: Pick<LoggerOptions, 'hooks' | 'formatters'> = {
  hooks: {
    logMethod(args, method) {
      // args[0] may be the merging object (formatters.log redacts it), the rest is the message and its arguments.
      const safe = args.map((a, i) => (i === 0 && typeof a === 'object' && a !== null ? a : redactCardData(a)));
      method.apply(this, safe as Parameters<typeof method>);
    },
  },
  formatters: {
    log: (obj) => redactCardData(obj),
    bindings: (bindings) => redactCardData(bindings),
  },
};

/**
 * pino resets formatters.bindings for children, so a child's bindings are redacted by child() itself:
 * set on the root, it is inherited by every child and grandchild (children are made with Object.create).
 */
function redactChildBindings(root: Logger): Logger {
  const child = root.child;
  function safeChild<L extends string = never>(this: Logger, bindings: Bindings, options?: ChildLoggerOptions<L>): Logger<L> {
    return child.call<Logger, [Bindings, ChildLoggerOptions<L> | undefined], Logger<L>>(this, redactCardData(bindings), options);
  }
  root.child = safeChild;
  return root;
}

/**
 * The service's logger: JSON lines at `level`, pretty when `pretty`; card numbers redacted in every
 * part of a line (see the header). `destination` (tests) replaces stdout and disables pretty-printing.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true, destination?: DestinationStream): Logger {
  if (destination) return redactChildBindings(pino({ level, redact: REDACT, ...CARD_SAFE }, destination));
  if (pretty) {
    return redactChildBindings(pino({ level, redact: REDACT, ...CARD_SAFE, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }));
  }
  return redactChildBindings(pino({ level, redact: REDACT, ...CARD_SAFE }));
}
