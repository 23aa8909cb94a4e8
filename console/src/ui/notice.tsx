import type { ComponentChildren } from 'preact';

export type NoticeKind = 'info' | 'success' | 'warning' | 'error';

/** A message block: errors are role=alert (announced at once), the rest role=status. */
export function Notice({ kind = 'info', title, children }: { kind?: NoticeKind; title?: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div class={`notice notice--${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {title ? <strong class="notice-title">{title}</strong> : null}
      {children ? <div>{children}</div> : null}
    </div>
  );
}
