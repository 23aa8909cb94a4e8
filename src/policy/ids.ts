// Our ids (PURE): every id Postgate makes is a UUID (gen_random_uuid), written in hex with dashes.

/** One UUID, the whole string, any case. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** UUIDs anywhere in a text (global: use with replace or matchAll). */
export const UUID_IN_TEXT = new RegExp(UUID_PATTERN.source.slice(1, -1), 'gi');

export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && UUID_PATTERN.test(v);
}
