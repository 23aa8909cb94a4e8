import type { ComponentChildren, JSX } from 'preact';

export type ButtonVariant = 'primary' | 'secondary' | 'danger' | 'link';

export interface ButtonProps extends Omit<JSX.ButtonHTMLAttributes<HTMLButtonElement>, 'class' | 'type'> {
  variant?: ButtonVariant;
  /** While true the button is disabled, marked aria-busy and shows `busyLabel` (default: the children and "…"). */
  busy?: boolean;
  busyLabel?: ComponentChildren;
  type?: 'button' | 'submit' | 'reset';
  class?: string;
  children: ComponentChildren;
}

/** A button: type "button" unless told (so it never submits a form by accident). */
export function Button({ variant = 'secondary', busy, busyLabel, type = 'button', class: cls, disabled, children, ...rest }: ButtonProps) {
  return (
    <button {...rest} type={type} class={`btn btn--${variant}${cls ? ` ${cls}` : ''}`} disabled={!!disabled || !!busy} aria-busy={busy ? 'true' : undefined}>
      {busy ? (busyLabel ?? <>{children}…</>) : children}
    </button>
  );
}

/** A link styled as a button (navigation, not an action). */
export function ButtonLink({ href, variant = 'secondary', children, ...rest }: { href: string; variant?: ButtonVariant; children: ComponentChildren } & Omit<JSX.AnchorHTMLAttributes<HTMLAnchorElement>, 'class' | 'href'>) {
  return <a {...rest} href={href} class={`btn btn--${variant}`}>{children}</a>;
}
