// A plain <textarea> for MJML with a line-number gutter: the lines the API reported errors on are
// marked in the gutter and listed under the editor, each with a button that moves the cursor there.
// No editor library and nothing from a CDN; Tab is left to the browser so keyboard users can leave.
import type { Ref } from 'preact';
import { useId, useMemo, useRef } from 'preact/hooks';
import { Button } from '../../ui';
import type { TemplateIssue } from './types';

export interface CodeEditorProps {
  label: string;
  value: string;
  onValue: (v: string) => void;
  hint?: string;
  /** The issues of this part (with their lines) to mark and list. */
  issues: TemplateIssue[];
  readOnly?: boolean;
  required?: boolean;
  textareaRef: Ref<HTMLTextAreaElement>;
  onFocus?: () => void;
  /** Rows shown (the textarea scrolls beyond). */
  rows?: number;
}

/** Moves the caret of `el` to the start of `line` (1-based), focuses it and scrolls the line into view. */
export function goToLine(el: HTMLTextAreaElement, line: number): void {
  const lines = el.value.split('\n');
  const n = Math.min(Math.max(line, 1), lines.length);
  let at = 0;
  for (let i = 0; i < n - 1; i++) at += lines[i].length + 1;
  el.focus();
  el.setSelectionRange(at, at + lines[n - 1].length);
  const lineHeight = parseFloat(getComputedStyle(el).lineHeight) || 21;
  el.scrollTop = Math.max(0, (n - 3) * lineHeight);
}

/** Inserts `text` at the caret (replacing the selection) of `el`; returns the new value. */
export function insertAtCaret(el: HTMLTextAreaElement | HTMLInputElement, text: string): string {
  el.focus();
  el.setRangeText(text, el.selectionStart ?? el.value.length, el.selectionEnd ?? el.value.length, 'end');
  return el.value;
}

/** The MJML editor: label, gutter + textarea, hint and the error list (the field's error, announced with it). */
export function CodeEditor({ label, value, onValue, hint, issues, readOnly, required, textareaRef, onFocus, rows = 22 }: CodeEditorProps) {
  const id = `code${useId()}`;
  const gutter = useRef<HTMLDivElement>(null);
  const count = useMemo(() => value.split('\n').length, [value]);
  const bad = useMemo(() => new Set(issues.map((i) => i.line).filter((l): l is number => l !== null)), [issues]);
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = issues.length ? `${id}-error` : undefined;
  const jump = (line: number) => {
    const el = (textareaRef as { current: HTMLTextAreaElement | null }).current;
    if (el) goToLine(el, line);
  };
  return (
    <div class={`field code-field${issues.length ? ' field--error' : ''}`}>
      <label for={id}>{label}</label>
      <div class="code-editor">
        <div class="code-gutter" ref={gutter} aria-hidden="true">
          {Array.from({ length: count }, (_, i) => (
            <div key={i} class={bad.has(i + 1) ? 'code-line code-line--error' : 'code-line'}>{i + 1}</div>
          ))}
        </div>
        <textarea id={id} ref={textareaRef} class="code-input" value={value} rows={rows} wrap="off" spellcheck={false}
          autocapitalize="off" autocomplete="off" readOnly={readOnly} required={required}
          aria-describedby={[hintId, errorId].filter(Boolean).join(' ') || undefined} aria-invalid={issues.length ? 'true' : undefined}
          onInput={(e) => onValue(e.currentTarget.value)} onFocus={onFocus}
          onScroll={(e) => { if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop; }} />
      </div>
      {hint ? <p class="hint" id={hintId}>{hint}</p> : null}
      {issues.length ? (
        <div class="field-error issue-list" id={errorId}>
          <span>{issues.length === 1 ? '1 error' : `${issues.length} errors`} in the {label}:</span>
          <ul>
            {issues.map((i, n) => (
              <li key={n}>
                {i.line !== null ? <>Line {i.line}: </> : null}{i.message.split('\n')[0]}
                {i.line !== null ? <> <Button variant="link" onClick={() => jump(i.line as number)}>Go to line {i.line}</Button></> : null}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
