// The column mapping form: one row per column of the file with its first values and a labelled select
// of what it becomes. The choices start from the mapping the server suggests (POST /api/imports/preview);
// the server's errors on a mapping key (mapping.email, mapping.attributes.<header>…) show at the column.
import { Field } from '../../ui';
import { ROLE_OPTIONS, type ColumnRole, type Preview } from './types';

/** The error of the column's key among `errors` (keyed as fieldKey gives them). */
function columnError(errors: Record<string, string | undefined>, header: string, role: ColumnRole): string | undefined {
  if (role.startsWith('attr:')) {
    const base = `mapping.attributes.${header}`;
    return errors[base] ?? errors[`${base}.attribute`] ?? errors[`${base}.type`];
  }
  if (role === 'ignore') return undefined;
  return errors[`mapping.${role}`];
}

export function ColumnMappingForm({ preview, roles, onRole, errors }: {
  preview: Preview; roles: ColumnRole[]; onRole: (i: number, role: ColumnRole) => void; errors: Record<string, string | undefined>;
}) {
  // A mapping key's error whose column is not (or no longer) chosen shows above the columns.
  const unplaced = Object.entries(errors).filter(([k, v]) => v && (k === 'mapping' || (k.startsWith('mapping.') && !preview.headers.some((h, i) => columnError(errors, h, roles[i]) === v))));
  return (
    <div class="mapping">
      {unplaced.map(([k, v]) => <p key={k} class="field-error" role="alert">{v}</p>)}
      <p class="hint">
        Read as {preview.encoding}, columns separated by {preview.delimiter === '\t' ? 'tabs' : `“${preview.delimiter}”`}.{' '}
        {preview.more ? `The first ${preview.rows.length} rows are shown.` : `All ${preview.rows.length} rows are shown.`}{' '}
        One column must be the email address; the address, list, consent and status choices take one column each.
      </p>
      <ol class="mapping-columns">
        {preview.headers.map((h, i) => {
          const samples = preview.rows.map((r) => r[i] ?? '').filter((v) => v !== '').slice(0, 3);
          return (
            <li key={`${i}-${h}`} class="mapping-column card">
              <div class="mapping-head">
                <strong class="mapping-header">{h || `(column ${i + 1} has no header)`}</strong>
                <span class="hint">{samples.length > 0 ? `e.g. ${samples.map((s) => (s.length > 40 ? `${s.slice(0, 40)}…` : s)).join(' · ')}` : 'empty in the rows shown'}</span>
              </div>
              <Field label={<>Import “{h}” as</>} error={columnError(errors, h, roles[i])}>
                {(a) => (
                  <select {...a} value={roles[i]} onChange={(e) => onRole(i, e.currentTarget.value as ColumnRole)}>
                    {ROLE_OPTIONS.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
                  </select>
                )}
              </Field>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
