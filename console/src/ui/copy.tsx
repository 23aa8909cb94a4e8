import { useState } from 'preact/hooks';
import { Button } from './button';

/**
 * Copies `text` to the clipboard; says "Copied" for a moment (announced through a live region). Falls
 * back to selecting a hidden textarea where the Clipboard API is unavailable (plain http).
 */
export function CopyButton({ text, label = 'Copy', what }: { text: string; label?: string; what?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  async function copy() {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
      else {
        const ta = document.createElement('textarea');
        ta.value = text; ta.setAttribute('readonly', ''); ta.style.position = 'fixed'; ta.style.opacity = '0';
        document.body.appendChild(ta); ta.select();
        const ok = document.execCommand('copy');
        ta.remove();
        if (!ok) throw new Error('copy refused');
      }
      setState('copied');
    } catch {
      setState('failed');
    }
    setTimeout(() => setState('idle'), 2000);
  }
  return (
    <span class="copy">
      <Button onClick={copy} aria-label={what ? `${label} ${what}` : undefined}>{label}</Button>
      <span class="copy-status" role="status">{state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select the text and copy it' : ''}</span>
    </span>
  );
}
