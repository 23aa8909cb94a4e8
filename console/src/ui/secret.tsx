import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { Button } from './button';
import { CopyButton } from './copy';

/**
 * A secret the server shows once (an API key, a webhook signing secret, a set-password link): the value
 * in a read-only monospace box with a copy button, a warning, and "Done" to dismiss it. Takes focus when
 * it appears so keyboard and screen reader users land on it.
 */
export function OneTimeSecret({ title, value, what, children, onDone }: { title: ComponentChildren; value: string; what: string; children?: ComponentChildren; onDone: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => { ref.current?.focus(); }, [value]);
  return (
    <div class="notice notice--success one-time" role="status" tabIndex={-1} ref={ref}>
      <strong class="notice-title">{title}</strong>
      {children ? <div>{children}</div> : null}
      <div class="secret">
        <code class="mono" data-secret={what}>{value}</code>
        <CopyButton text={value} what={what} />
      </div>
      <div class="actions" style={{ marginTop: '.5rem' }}><Button onClick={onDone}>Done</Button></div>
    </div>
  );
}
