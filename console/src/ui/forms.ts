import { isApiFailure } from '../api';
import { plainMessage } from './messages';

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
  if (!f) return { _form: plainMessage(err.message) };
  const text = plainMessage(err.message, f);
  if (!fields || fields.includes(f)) return { [f]: text };
  const head = f.split(/[.[]/)[0];
  if (fields.includes(head)) return { [head]: text };
  return { _form: `${f}: ${text}` };
}

/** The message of any thrown value (for a Notice); an API validator message in plain words (plainMessage), its field kept in front. */
export function errorMessage(err: unknown): string {
  if (isApiFailure(err)) {
    const text = plainMessage(err.message, err.field);
    return err.field && text !== err.message && err.message.startsWith(`${err.field}: `) ? `${err.field}: ${text}` : text;
  }
  return err instanceof Error ? err.message : String(err);
}
