import { Button } from './button';

export interface PagerProps {
  /** Whether a previous page exists (useApiList's hasPrev). */
  hasPrev: boolean;
  /** The API's nextCursor; null on the last page. */
  nextCursor: string | null;
  onPrev: () => void;
  onNext: () => void;
  busy?: boolean;
  /** Names what is paged, for the nav's label ("Contacts pages"). */
  label?: string;
}

/** Previous / next buttons over a cursor-paged list. Renders nothing when there is a single page. */
export function Pager({ hasPrev, nextCursor, onPrev, onNext, busy, label = 'Pages' }: PagerProps) {
  if (!hasPrev && !nextCursor) return null;
  return (
    <nav class="pager" aria-label={label}>
      <Button onClick={onPrev} disabled={!hasPrev || busy}>Previous page</Button>
      <Button onClick={onNext} disabled={!nextCursor || busy}>Next page</Button>
    </nav>
  );
}
