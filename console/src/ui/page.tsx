import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';

/** Sets document.title to "<title> · Postgate". */
export function useTitle(title: string): void {
  useEffect(() => { document.title = `${title} · Postgate`; }, [title]);
}

/** The page's one h1 (also document.title), an optional line under it and the page's main actions. */
export function PageHeader({ title, subtitle, actions }: { title: string; subtitle?: ComponentChildren; actions?: ComponentChildren }) {
  useTitle(title);
  return (
    <header class="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle ? <p class="subtitle">{subtitle}</p> : null}
      </div>
      {actions ? <div class="actions">{actions}</div> : null}
    </header>
  );
}

/** What an empty list shows: a line and, optionally, the action that fills it. */
export function EmptyState({ title, children }: { title: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div class="empty-state">
      <p class="empty-title">{title}</p>
      {children}
    </div>
  );
}

/** A section with an h2 (pages are h1 > h2 > h3). */
export function Section({ title, children, actions, id }: { title: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren; id?: string }) {
  return (
    <section class="section" aria-labelledby={id ? `${id}-h` : undefined}>
      <div class="section-head"><h2 id={id ? `${id}-h` : undefined}>{title}</h2>{actions ? <div class="actions">{actions}</div> : null}</div>
      {children}
    </section>
  );
}

/** "Loading…" announced politely. */
export function Loading({ what = 'Loading' }: { what?: string }) {
  return <p class="loading" role="status">{what}…</p>;
}
