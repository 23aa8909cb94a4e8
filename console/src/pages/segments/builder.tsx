// The condition rows of the segment builder: each row a fieldset ("Condition 2") with labelled
// controls for what it tests; the server's fault on a row shows at the control it names.
import { useId } from 'preact/hooks';
import { Button, Checkbox, Field, Select } from '../../ui';
import {
  DATE_OP_LABEL, KIND_LABEL, OP_LABEL, STATUS_LABEL, SUBSCRIPTION_LABEL, TYPE_LABEL, newRow,
  type AttributeName, type AttributeOp, type DateOp, type Kind, type Match, type Model, type Row, type ValueType,
} from './types';

export interface ListOption { id: string; name: string }
/** Faults by row index, then by part (attribute, op, value, list, status, field…; '' for the row as a whole). */
export type RowFaults = Record<number, Record<string, string>>;

const options = <K extends string>(labels: Record<K, string>) => (Object.keys(labels) as K[]).map((k) => ({ value: k, label: labels[k] }));
const ORDERED: ReadonlySet<AttributeOp> = new Set(['gt', 'gte', 'lt', 'lte', 'between']);

function ValueInput({ label, row, value, onValue, error }: { label: string; row: Row; value: string; onValue: (v: string) => void; error?: string }) {
  if (row.valueType === 'boolean') {
    return <Select label={label} value={value} onValue={onValue} error={error}
      options={[{ value: '', label: 'Choose…' }, { value: 'true', label: 'Yes (true)' }, { value: 'false', label: 'No (false)' }]} />;
  }
  return (
    <Field label={label} error={error} hint={row.op === 'in' ? 'Separate values with commas.' : undefined}>
      {(a) => <input {...a} type={row.valueType === 'number' && row.op !== 'in' ? 'number' : 'text'} step="any" value={value}
        onInput={(e) => onValue(e.currentTarget.value)} />}
    </Field>
  );
}

function ConditionRow({ row, index, onChange, onRemove, faults, attributes, lists, datalistId }: {
  row: Row; index: number; onChange: (r: Row) => void; onRemove: () => void; faults: Record<string, string>;
  attributes: AttributeName[]; lists: ListOption[]; datalistId: string;
}) {
  const set = (p: Partial<Row>) => onChange({ ...row, ...p });
  const attrTypes = (name: string): ValueType | null => {
    const known = attributes.find((a) => a.name === name)?.types.filter((t) => t === 'string' || t === 'number' || t === 'boolean') ?? [];
    return known.length === 1 ? known[0] as ValueType : null;
  };
  return (
    <fieldset class={`condition${Object.keys(faults).length > 0 ? ' field--error' : ''}`}>
      <legend>Condition {index + 1}</legend>
      <div class="condition-controls">
        <Select label="Match on" value={row.kind} onValue={(v) => set({ kind: v as Kind })} options={options(KIND_LABEL)} error={faults.field} />
        {row.kind === 'attribute' ? (
          <>
            <Field label="Attribute" error={faults.attribute} hint="A name your contacts have, e.g. plan.">
              {(a) => <input {...a} type="text" list={datalistId} value={row.attribute} maxLength={100} autoComplete="off"
                onInput={(e) => { const name = e.currentTarget.value; const t = attrTypes(name); set(t ? { attribute: name, valueType: t } : { attribute: name }); }} />}
            </Field>
            <Select label="Operator" value={row.op} onValue={(v) => set({ op: v as AttributeOp })} options={options(OP_LABEL)} error={faults.op} />
            {row.op !== 'exists' ? (
              <>
                <Select label="Value type" value={row.valueType} onValue={(v) => set({ valueType: v as ValueType, value: '', value2: '' })}
                  options={options(TYPE_LABEL).map((o) => ({ ...o, disabled: o.value === 'boolean' && ORDERED.has(row.op) }))} />
                <ValueInput label={row.op === 'between' ? 'From' : row.op === 'in' ? 'Values' : 'Value'} row={row} value={row.value}
                  onValue={(v) => set({ value: v })} error={faults.value} />
                {row.op === 'between' ? <ValueInput label="To" row={row} value={row.value2} onValue={(v) => set({ value2: v })} /> : null}
              </>
            ) : null}
          </>
        ) : null}
        {row.kind === 'status' ? (
          <Select label="Status is" value={row.status} onValue={(v) => set({ status: v as Row['status'] })} options={options(STATUS_LABEL)} error={faults.status} />
        ) : null}
        {row.kind === 'list' ? (
          <>
            <Select label="List" value={row.list} onValue={(v) => set({ list: v })} error={faults.list}
              options={[{ value: '', label: 'Choose a list…' }, ...lists.map((l) => ({ value: l.id, label: l.name }))]} />
            <Select label="Subscription" value={row.subscription} onValue={(v) => set({ subscription: v as Row['subscription'] })}
              options={options(SUBSCRIPTION_LABEL)} error={faults.subscription} />
          </>
        ) : null}
        {row.kind === 'createdAt' || row.kind === 'confirmedAt' ? (
          <>
            <Select label="When" value={row.dateOp} onValue={(v) => set({ dateOp: v as DateOp })} options={options(DATE_OP_LABEL)} error={faults.op} />
            <Field label={row.dateOp === 'between' ? 'From (UTC)' : 'Date (UTC)'} error={faults.value}>
              {(a) => <input {...a} type="date" value={row.date} onInput={(e) => set({ date: e.currentTarget.value })} />}
            </Field>
            {row.dateOp === 'between' ? (
              <Field label="To (UTC)">{(a) => <input {...a} type="date" value={row.date2} onInput={(e) => set({ date2: e.currentTarget.value })} />}</Field>
            ) : null}
          </>
        ) : null}
      </div>
      <div class="condition-foot">
        <Checkbox label="Exclude the contacts this matches (not)" checked={row.negate} onChecked={(v) => set({ negate: v })} />
        <Button variant="link" onClick={onRemove} aria-label={`Remove condition ${index + 1}`}>Remove</Button>
      </div>
      {faults[''] ? <p class="field-error">{faults['']}</p> : null}
    </fieldset>
  );
}

/** The rows and how they combine; `onChange` gets the whole new model. */
export function ConditionBuilder({ model, onChange, faults, attributes, lists }: {
  model: Model; onChange: (m: Model) => void; faults: RowFaults; attributes: AttributeName[]; lists: ListOption[];
}) {
  const datalistId = `seg-attrs-${useId()}`;
  const setRow = (i: number, r: Row) => onChange({ ...model, rows: model.rows.map((x, j) => (j === i ? r : x)) });
  return (
    <div class="builder">
      <Select label="Contacts must match" value={model.match} onValue={(v) => onChange({ ...model, match: v as Match })}
        options={[{ value: 'all', label: 'all of the conditions (AND)' }, { value: 'any', label: 'any of the conditions (OR)' }]} />
      <datalist id={datalistId}>{attributes.map((a) => <option key={a.name} value={a.name} />)}</datalist>
      {model.rows.length === 0 ? <p class="hint">{model.match === 'all' ? 'No conditions: everyone matches.' : 'No conditions: no one matches.'}</p> : null}
      {model.rows.map((r, i) => (
        <ConditionRow key={r.key} row={r} index={i} onChange={(x) => setRow(i, x)} faults={faults[i] ?? {}}
          onRemove={() => onChange({ ...model, rows: model.rows.filter((_, j) => j !== i) })}
          attributes={attributes} lists={lists} datalistId={datalistId} />
      ))}
      <Button onClick={() => onChange({ ...model, rows: [...model.rows, newRow()] })}>Add a condition</Button>
    </div>
  );
}
