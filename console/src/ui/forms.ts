import { isApiFailure } from '../api';

/** Errors keyed by field name, plus `_form` for an error that names no field (or a field the form lacks). */
export type FormErrors = Record<string, string | undefined> & { _form?: string };

/**
 * Maps a failed call to the field it names: `{[error.field]: message}`; an error with no field (or
 * any other thrown value) goes to `_form`. Pass the form's field names to send unknown fields to `_form`
 * too. A dotted field ("scopes.0", "body.email") also answers under its first part when that is a known field.
 */
export function formErrors(err: unknown, fields?: readonly string[]): FormErrors {
  if (!isApiFailure(err)) return { _form: err instanceof Error ? err.message : String(err) };
  const f = err.field;
  if (!f) return { _form: err.message };
  if (!fields || fields.includes(f)) return { [f]: err.message };
  const head = f.split(/[.[]/)[0];
  if (fields.includes(head)) return { [head]: err.message };
  return { _form: `${f}: ${err.message}` };
}

/** The message of any thrown value (for a Notice). */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
