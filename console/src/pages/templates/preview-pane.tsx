// The live preview: the rendered HTML in a sandboxed iframe (srcdoc, sandbox="" — no scripts, no
// same-origin access, no forms, no navigation) at a desktop or mobile width, the subject and the text part.
import { useId, useState } from 'preact/hooks';
import { Notice } from '../../ui';
import type { Preview } from './types';

/** Widths of the preview frame in CSS pixels: desktop is wider than MJML's 600 px body, mobile a common phone. */
export const PREVIEW_WIDTHS = { desktop: 640, mobile: 375 } as const;
export type PreviewWidth = keyof typeof PREVIEW_WIDTHS;

export interface PreviewPaneProps {
  preview: Preview | null;
  /** The preview is of older content (the current content has errors, or is being rendered). */
  stale: boolean;
  busy: boolean;
  /** Why the preview could not be made (other than template errors, which the fields show). */
  error: string | null;
}

export function PreviewPane({ preview, stale, busy, error }: PreviewPaneProps) {
  // A narrow screen starts at the mobile width, which fits it; either can be chosen.
  const [width, setWidth] = useState<PreviewWidth>(() => (typeof matchMedia === 'function' && matchMedia('(max-width: 700px)').matches ? 'mobile' : 'desktop'));
  const name = `w${useId()}`;
  const px = PREVIEW_WIDTHS[width];
  return (
    <section class="preview-pane" aria-labelledby={`${name}-h`}>
      <div class="section-head">
        <h2 id={`${name}-h`}>Preview</h2>
        <p class="preview-status muted" role="status">{busy ? 'Rendering…' : stale ? 'Showing the last version without errors' : preview ? 'Up to date' : ''}</p>
      </div>
      <fieldset class="segmented">
        <legend>Preview width</legend>
        {(['desktop', 'mobile'] as const).map((w) => (
          <label key={w} class={width === w ? 'segmented-option is-selected' : 'segmented-option'}>
            <input type="radio" name={name} value={w} checked={width === w} onChange={() => setWidth(w)} />
            {w === 'desktop' ? 'Desktop' : 'Mobile'} ({PREVIEW_WIDTHS[w]} px)
          </label>
        ))}
      </fieldset>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {preview ? (
        <>
          <p class="preview-subject"><span class="muted">Subject:</span> <strong>{preview.subject}</strong></p>
          <div class="preview-frame-wrap" tabIndex={0} role="region" aria-label={`Email preview, ${px} pixels wide`}>
            <iframe class={`preview-frame${stale ? ' is-stale' : ''}`} title={`Email preview (${width}, ${px} px)`} sandbox="" srcdoc={preview.html}
              width={px} style={{ width: `${px}px` }} data-width={width} />
          </div>
          <details class="preview-text">
            <summary>Text part</summary>
            <pre>{preview.text}</pre>
          </details>
        </>
      ) : !error ? <p class="muted">{busy ? 'Rendering the preview…' : 'The preview appears here.'}</p> : null}
    </section>
  );
}
