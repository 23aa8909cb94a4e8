// Create or edit a webhook endpoint: URL, description, the event types (all, or chosen from GET /api/event-types).
import { useState } from 'preact/hooks';
import { api, type Page } from '../../api';
import { Button, Checkbox, Fieldset, Loading, Notice, TextInput, formErrors, useAsync, type FormErrors } from '../../ui';
import type { Endpoint, EndpointWithSecret } from './types';

export interface WebhookFormProps {
  /** The endpoint to edit; absent to create one. */
  endpoint?: Endpoint;
  onSaved: (e: EndpointWithSecret | Endpoint) => void;
  onCancel: () => void;
}

export function WebhookForm({ endpoint, onSaved, onCancel }: WebhookFormProps) {
  const types = useAsync(() => api.get<Page<string>>('/api/event-types'), []);
  const [url, setUrl] = useState(endpoint?.url ?? '');
  const [description, setDescription] = useState(endpoint?.description ?? '');
  const [all, setAll] = useState(endpoint ? endpoint.types.includes('*') : true);
  const [chosen, setChosen] = useState<string[]>(endpoint && !endpoint.types.includes('*') ? endpoint.types : []);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FormErrors>({});

  async function submit(e: Event) {
    e.preventDefault();
    const body = { url: url.trim(), description: description.trim() || null, types: all ? ['*'] : chosen };
    setBusy(true);
    setErrors({});
    try {
      onSaved(endpoint ? await api.patch<Endpoint>(`/api/webhooks/${endpoint.id}`, body) : await api.post<EndpointWithSecret>('/api/webhooks', body));
    } catch (err) {
      setErrors(formErrors(err, ['url', 'types', 'description']));
    } finally {
      setBusy(false);
    }
  }

  const title = endpoint ? 'Edit webhook endpoint' : 'New webhook endpoint';
  return (
    <form class="card" onSubmit={submit} noValidate aria-label={title}>
      <h3>{title}</h3>
      {errors._form ? <Notice kind="error">{errors._form}</Notice> : null}
      <TextInput label="URL" type="url" value={url} onValue={setUrl} required error={errors.url} inputMode="url"
        hint="An https address that accepts POST requests. Private and loopback addresses are refused." />
      <TextInput label="Description" value={description} onValue={setDescription} error={errors.description} maxLength={500} hint="Optional: a note for people." />
      <Fieldset legend="Events" error={errors.types}>
        <Checkbox label="Every event type (also types added later)" checked={all} onChecked={setAll} />
        {all ? null : types.loading ? <Loading what="Loading the event types" /> : types.error ? <Notice kind="error">The event types could not be loaded.</Notice> : (
          <div class="type-grid">
            {(types.data?.items ?? []).map((t) => (
              <Checkbox key={t} label={<code>{t}</code>} checked={chosen.includes(t)}
                onChecked={(on) => setChosen(on ? [...chosen, t] : chosen.filter((x) => x !== t))} />
            ))}
          </div>
        )}
      </Fieldset>
      <div class="actions">
        <Button variant="primary" type="submit" busy={busy}>{endpoint ? 'Save endpoint' : 'Add endpoint'}</Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}
