import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, withQuery, type Page } from '../api';

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Runs the function again (keeps the old data while loading). */
  reload: () => Promise<void>;
  /** Replaces the data locally (after a mutation that answered the new value). */
  setData: (v: T | undefined) => void;
}

/** Runs `fn` on mount and whenever `deps` change; a late answer of an outdated run is dropped. */
export function useAsync<T>(fn: () => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const run = useRef(0);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const reload = useCallback(async () => {
    const me = ++run.current;
    setLoading(true);
    try {
      const v = await fn();
      if (me === run.current) { setData(v); setError(null); }
    } catch (err) {
      if (me === run.current) setError(err);
    } finally {
      if (me === run.current) setLoading(false);
    }
  }, deps);
  useEffect(() => { void reload(); }, [reload]);
  return { data, error, loading, reload, setData };
}

export interface ApiList<T> {
  items: T[];
  nextCursor: string | null;
  loading: boolean;
  error: unknown;
  hasPrev: boolean;
  next: () => void;
  prev: () => void;
  /** Back to the first page and reload (after a change or a new filter). */
  reload: () => Promise<void>;
}

/**
 * A cursor-paged API list (`{items, nextCursor}`): `path` may carry filters (withQuery); the hook adds
 * `cursor` (and `limit` when given). A null path loads nothing. Changing the path returns to page one.
 */
export function useApiList<T>(path: string | null, limit?: number): ApiList<T> {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => { setCursors([null]); }, [path]);
  const state = useAsync<Page<T> | null>(
    () => (path === null ? Promise.resolve(null) : api.get<Page<T>>(withQuery(path, { cursor: cursor ?? undefined, limit }))),
    [path, cursor, limit],
  );
  const page = state.data;
  return {
    items: page?.items ?? [],
    nextCursor: page?.nextCursor ?? null,
    loading: state.loading,
    error: state.error,
    hasPrev: cursors.length > 1,
    next: () => { if (page?.nextCursor) setCursors([...cursors, page.nextCursor]); },
    prev: () => { if (cursors.length > 1) setCursors(cursors.slice(0, -1)); },
    reload: async () => { if (cursors.length > 1) setCursors([null]); else await state.reload(); },
  };
}
