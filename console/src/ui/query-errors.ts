// formErrors for forms whose values travel in the query string (filters) as well as in the body: the
// API names a query parameter "query.<name>", a form field is "<name>".
import { isApiFailure } from '../api';
import { formErrors, type FormErrors } from './forms';
import { plainMessage } from './messages';

/**
 * Like formErrors(err, fields), with "query.<name>" and "body.<name>" read as "<name>": the API's
 * error for a filter shows next to the filter's field. Anything else goes to `_form`.
 */
export function fieldErrors(err: unknown, fields: readonly string[]): FormErrors {
  if (isApiFailure(err) && err.field) {
    const bare = err.field.replace(/^(query|body)\./, '');
    if (fields.includes(bare)) return { [bare]: plainMessage(err.message.replace(/^(query|body)\.[\w.]+: /, '')) };
  }
  return formErrors(err, fields);
}
