import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';
import { Button } from './button';

export interface ConfirmDialogProps {
  open: boolean;
  title: ComponentChildren;
  children?: ComponentChildren;
  confirmLabel: string;
  cancelLabel?: string;
  /** Styles the confirm button as dangerous (remove, revoke, erase). */
  danger?: boolean;
  busy?: boolean;
  /** An error from the confirmed action, shown in the dialog (role=alert). */
  error?: string | null;
  onConfirm: () => void;
  onCancel: () => void;
}

/**
 * A modal confirmation in a native <dialog> (focus trapped by the browser, Escape cancels). Focus goes
 * back to the element that had it when the dialog opened. Extra inputs (a reason) may go in children.
 */
export function ConfirmDialog({ open, title, children, confirmLabel, cancelLabel = 'Cancel', danger, busy, error, onConfirm, onCancel }: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  const titleId = `d${useId()}`;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      d.showModal();
    } else if (!open && d.open) {
      d.close();
    }
    if (!open && opener.current) {
      const back = opener.current;
      opener.current = null;
      if (back.isConnected) back.focus();
    }
  }, [open]);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby={titleId}
      onCancel={(e) => { e.preventDefault(); if (!busy) onCancel(); }}>
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); onConfirm(); }}>
        <h2 id={titleId}>{title}</h2>
        <div class="dialog-body">{children}</div>
        {error ? <p class="notice notice--error" role="alert">{error}</p> : null}
        <div class="actions">
          <Button variant={danger ? 'danger' : 'primary'} type="submit" busy={busy}>{confirmLabel}</Button>
          <Button onClick={onCancel} disabled={busy}>{cancelLabel}</Button>
        </div>
      </form>
    </dialog>
  );
}
