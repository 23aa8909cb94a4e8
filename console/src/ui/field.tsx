// Labelled form fields: every control has a visible label, an optional hint and the API's error for
// it, tied together with aria-describedby and aria-invalid.
import type { ComponentChildren, JSX } from 'preact';
import { useId } from 'preact/hooks';

/** What Field hands its control so the label, hint and error are announced with it. */
export interface FieldA11y { id: string; 'aria-describedby'?: string; 'aria-invalid'?: 'true'; 'aria-required'?: 'true' }

export interface FieldProps {
  label: ComponentChildren;
  hint?: ComponentChildren;
  /** The error to show under the control (e.g. formErrors(failure).email). */
  error?: string | null;
  required?: boolean;
  id?: string;
  class?: string;
  /** Renders the control with the ids to put on it. */
  children: (a11y: FieldA11y) => ComponentChildren;
}

/** A label, the control, a hint and an error message, connected for assistive technology. */
export function Field({ label, hint, error, required, id, class: cls, children }: FieldProps) {
  const auto = useId();
  const controlId = id ?? `f${auto}`;
  const hintId = hint ? `${controlId}-hint` : undefined;
  const errorId = error ? `${controlId}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${error ? ' field--error' : ''}${cls ? ` ${cls}` : ''}`}>
      <label for={controlId}>{label}</label>
      {children({ id: controlId, 'aria-describedby': describedBy, 'aria-invalid': error ? 'true' : undefined, 'aria-required': required ? 'true' : undefined })}
      {hint ? <p class="hint" id={hintId}>{hint}</p> : null}
      {error ? <p class="field-error" id={errorId}>{error}</p> : null}
    </div>
  );
}

type InputAttrs = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, 'label' | 'value' | 'onInput' | 'id' | 'class'>;

export interface TextInputProps extends InputAttrs {
  label: ComponentChildren; value: string; onValue: (v: string) => void;
  hint?: ComponentChildren; error?: string | null; id?: string; class?: string;
}

/** A labelled <input> (type text by default; email, password, number, datetime-local, search… work too). */
export function TextInput({ label, value, onValue, hint, error, id, class: cls, required, type = 'text', ...rest }: TextInputProps) {
  return (
    <Field label={label} hint={hint} error={error} required={!!required} id={id} class={cls}>
      {(a) => <input {...rest} {...a} type={type} required={!!required} value={value} onInput={(e) => onValue(e.currentTarget.value)} />}
    </Field>
  );
}

type TextareaAttrs = Omit<JSX.TextareaHTMLAttributes<HTMLTextAreaElement>, 'label' | 'value' | 'onInput' | 'id' | 'class'>;
export interface TextareaProps extends TextareaAttrs {
  label: ComponentChildren; value: string; onValue: (v: string) => void;
  hint?: ComponentChildren; error?: string | null; id?: string; class?: string;
}

/** A labelled <textarea>. */
export function Textarea({ label, value, onValue, hint, error, id, class: cls, required, ...rest }: TextareaProps) {
  return (
    <Field label={label} hint={hint} error={error} required={!!required} id={id} class={cls}>
      {(a) => <textarea {...rest} {...a} required={!!required} value={value} onInput={(e) => onValue(e.currentTarget.value)} />}
    </Field>
  );
}

export interface Option { value: string; label: string; disabled?: boolean }
type SelectAttrs = Omit<JSX.SelectHTMLAttributes<HTMLSelectElement>, 'label' | 'value' | 'onChange' | 'onInput' | 'id' | 'class'>;
export interface SelectProps extends SelectAttrs {
  label: ComponentChildren; value: string; onValue: (v: string) => void; options: Option[];
  hint?: ComponentChildren; error?: string | null; id?: string; class?: string;
}

/** A labelled <select> over `options`. */
export function Select({ label, value, onValue, options, hint, error, id, class: cls, required, ...rest }: SelectProps) {
  return (
    <Field label={label} hint={hint} error={error} required={!!required} id={id} class={cls}>
      {(a) => (
        <select {...rest} {...a} required={!!required} value={value} onChange={(e) => onValue(e.currentTarget.value)}>
          {options.map((o) => <option key={o.value} value={o.value} disabled={o.disabled}>{o.label}</option>)}
        </select>
      )}
    </Field>
  );
}

export interface CheckboxProps {
  label: ComponentChildren; checked: boolean; onChecked: (v: boolean) => void;
  hint?: ComponentChildren; error?: string | null; id?: string; disabled?: boolean; name?: string;
}

/** A checkbox with its label to the right. */
export function Checkbox({ label, checked, onChecked, hint, error, id, disabled, name }: CheckboxProps) {
  const auto = useId();
  const controlId = id ?? `c${auto}`;
  const hintId = hint ? `${controlId}-hint` : undefined;
  const errorId = error ? `${controlId}-error` : undefined;
  return (
    <div class={`field field--check${error ? ' field--error' : ''}`}>
      <input type="checkbox" id={controlId} name={name} checked={checked} disabled={disabled}
        aria-describedby={[hintId, errorId].filter(Boolean).join(' ') || undefined} aria-invalid={error ? 'true' : undefined}
        onChange={(e) => onChecked(e.currentTarget.checked)} />
      <label for={controlId}>{label}</label>
      {hint ? <p class="hint" id={hintId}>{hint}</p> : null}
      {error ? <p class="field-error" id={errorId}>{error}</p> : null}
    </div>
  );
}

/** A group of checkboxes or radios under a legend (e.g. a key's scopes). */
export function Fieldset({ legend, hint, error, children }: { legend: ComponentChildren; hint?: ComponentChildren; error?: string | null; children: ComponentChildren }) {
  const auto = useId();
  const errorId = error ? `fs${auto}-error` : undefined;
  return (
    <fieldset class={`fieldset${error ? ' field--error' : ''}`} aria-describedby={errorId}>
      <legend>{legend}</legend>
      {hint ? <p class="hint">{hint}</p> : null}
      {children}
      {error ? <p class="field-error" id={errorId}>{error}</p> : null}
    </fieldset>
  );
}
