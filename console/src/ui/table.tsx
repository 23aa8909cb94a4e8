import type { ComponentChildren } from 'preact';

export interface Column<T> {
  /** Column header text. */
  label: ComponentChildren;
  render: (row: T) => ComponentChildren;
  /** Right-aligned (figures). */
  numeric?: boolean;
  /** Hide the header visually (e.g. an actions column); it stays for screen readers. */
  hideLabel?: boolean;
}

export interface TableProps<T> {
  /** Every table has a caption (visually hidden with captionHidden). */
  caption: ComponentChildren;
  captionHidden?: boolean;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  /** The first column is the row header (th scope=row) unless false. */
  rowHeader?: boolean;
  /** Shown in one cell when rows is empty. */
  empty?: ComponentChildren;
}

/** A data table in a horizontally scrollable, keyboard-focusable region. */
export function Table<T>({ caption, captionHidden, columns, rows, rowKey, rowHeader = true, empty }: TableProps<T>) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={typeof caption === 'string' ? caption : 'Table'}>
      <table>
        <caption class={captionHidden ? 'visually-hidden' : undefined}>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col" class={c.numeric ? 'num' : undefined}>
                {c.hideLabel ? <span class="visually-hidden">{c.label}</span> : c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && empty ? (
            <tr><td colSpan={columns.length} class="empty-cell">{empty}</td></tr>
          ) : rows.map((r) => (
            <tr key={rowKey(r)}>
              {columns.map((c, i) => i === 0 && rowHeader
                ? <th key={i} scope="row" class={c.numeric ? 'num' : undefined}>{c.render(r)}</th>
                : <td key={i} class={c.numeric ? 'num' : undefined}>{c.render(r)}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
