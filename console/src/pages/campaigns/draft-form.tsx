// The draft editor: name, subject, template, lists and segment, reply-to (the From is the tenant's).
// A new campaign is POSTed; an existing one is PATCHed with only the fields changed. The server
// validates everything; its errors are shown next to the field they name.
import { useMemo, useState } from 'preact/hooks';
import { api, type Page } from '../../api';
import { Button, Checkbox, Fieldset, Notice, Select, TextInput, formErrors, useAsync, type FormErrors } from '../../ui';
import type { Campaign, ListItem, SegmentItem, TemplateItem } from './types';

const FIELDS = ['name', 'subject', 'templateId', 'templateVersion', 'listIds', 'segmentId', 'replyTo'] as const;

interface Choices { templates: TemplateItem[]; lists: ListItem[]; segments: SegmentItem[] }

async function loadChoices(): Promise<Choices> {
  const [templates, lists, segments] = await Promise.all([
    api.get<Page<TemplateItem>>('/api/templates?limit=500'),
    api.get<Page<ListItem>>('/api/lists'),
    api.get<Page<SegmentItem>>('/api/segments').catch(() => ({ items: [], nextCursor: null })),
  ]);
  return { templates: templates.items, lists: lists.items, segments: segments.items };
}

interface Form { name: string; subject: string; templateId: string; listIds: string[]; segmentId: string; replyTo: string }

const formOf = (c: Campaign | undefined): Form => ({
  name: c?.name ?? '', subject: c?.subject ?? '', templateId: c?.templateId ?? '', listIds: c?.listIds ?? [],
  segmentId: c?.segmentId ?? '', replyTo: c?.replyTo ?? '',
});

/** The PATCH body: the fields that differ from the campaign as loaded. */
function changes(f: Form, c: Campaign): Record<string, unknown> {
  const was = formOf(c);
  const body: Record<string, unknown> = {};
  if (f.name !== was.name) body.name = f.name;
  if (f.subject !== was.subject) body.subject = f.subject;
  if (f.templateId !== was.templateId) body.templateId = f.templateId;
  if (f.listIds.join() !== was.listIds.join()) body.listIds = f.listIds;
  if (f.segmentId !== was.segmentId) body.segmentId = f.segmentId || null;
  if (f.replyTo !== was.replyTo) body.replyTo = f.replyTo.trim() || null;
  return body;
}

export interface DraftFormProps {
  /** The campaign to edit; undefined for a new one. */
  campaign?: Campaign;
  /** Shows the content without letting it change (a viewer, or a campaign that started). */
  readOnly: boolean;
  onSaved: (c: Campaign, created: boolean) => void;
}

export function DraftForm({ campaign, readOnly, onSaved }: DraftFormProps) {
  const choices = useAsync(loadChoices, []);
  const [form, setForm] = useState<Form>(() => formOf(campaign));
  const [errors, setErrors] = useState<FormErrors>({});
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState('');
  const set = <K extends keyof Form>(k: K, v: Form[K]) => { setForm((f) => ({ ...f, [k]: v })); setSaved(''); };
  const c = choices.data;

  const templateOptions = useMemo(() => [
    { value: '', label: 'Choose a template', disabled: true },
    ...(c?.templates ?? []).map((t) => ({ value: t.id, label: `${t.name} (version ${t.version})` })),
  ], [c]);
  const lists = (c?.lists ?? []).filter((l) => !l.archivedAt || form.listIds.includes(l.id));

  async function save(e: Event) {
    e.preventDefault();
    setErrors({}); setSaved('');
    const body = campaign ? changes(form, campaign) : {
      name: form.name, templateId: form.templateId, listIds: form.listIds,
      ...(form.subject.trim() ? { subject: form.subject } : {}),
      ...(form.segmentId ? { segmentId: form.segmentId } : {}),
      ...(form.replyTo.trim() ? { replyTo: form.replyTo.trim() } : {}),
    };
    if (campaign && Object.keys(body).length === 0) { setSaved('Nothing to save: no field changed.'); return; }
    if (!campaign && !form.templateId) { setErrors({ templateId: 'Choose a template.' }); return; }
    if (!campaign && form.listIds.length === 0) { setErrors({ listIds: 'Choose at least one list.' }); return; }
    setBusy(true);
    try {
      const out = campaign
        ? await api.patch<Campaign>(`/api/campaigns/${campaign.id}`, body)
        : await api.post<Campaign>('/api/campaigns', body);
      setForm(formOf(out));
      setSaved('Saved.');
      onSaved(out, !campaign);
    } catch (err) {
      setErrors(formErrors(err, FIELDS));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="campaign-form wide" onSubmit={save} aria-label={campaign ? 'Campaign content' : 'New campaign'} noValidate>
      {choices.error ? <Notice kind="error" title="Templates, lists or segments could not be loaded" /> : null}
      {errors._form ? <Notice kind="error">{errors._form}</Notice> : null}
      <fieldset class="plain" disabled={readOnly || busy}>
        <legend class="visually-hidden">Content</legend>
        <div class="form-grid">
          <TextInput label="Name" hint="For you; recipients never see it." required maxLength={200}
            value={form.name} onValue={(v) => set('name', v)} error={errors.name} />
          <TextInput label="Subject" hint={campaign ? 'Handlebars variables allowed, e.g. {{name}}.' : 'Empty: the template\'s subject. Variables allowed, e.g. {{name}}.'}
            value={form.subject} onValue={(v) => set('subject', v)} error={errors.subject} />
          <Select label="Template" required value={form.templateId} onValue={(v) => set('templateId', v)}
            options={templateOptions} error={errors.templateId ?? errors.templateVersion}
            hint={campaign ? `Version ${campaign.templateVersion}${campaign.templatePinned ? ' (pinned)' : ' (follows the latest until it starts)'}.` : 'The campaign follows the template\'s latest version until it starts.'} />
          <Select label="Segment" value={form.segmentId} onValue={(v) => set('segmentId', v)} error={errors.segmentId}
            hint="Narrows the lists to the contacts that match it."
            options={[{ value: '', label: 'Everyone on the lists' }, ...(c?.segments ?? []).map((s) => ({ value: s.id, label: s.name }))]} />
        </div>
        <Fieldset legend="Lists" hint="Subscribed contacts of these lists receive the campaign." error={errors.listIds}>
          {lists.length === 0 && c ? <p class="muted">No lists yet.</p> : null}
          <div class="check-grid">
            {lists.map((l) => (
              <Checkbox key={l.id} label={`${l.name}${l.archivedAt ? ' (archived)' : ''}`} checked={form.listIds.includes(l.id)}
                onChecked={(on) => set('listIds', on ? [...form.listIds, l.id] : form.listIds.filter((x) => x !== l.id))} />
            ))}
          </div>
        </Fieldset>
        <div class="form-grid">
          <TextInput label="Reply-to" type="email" value={form.replyTo} onValue={(v) => set('replyTo', v)} error={errors.replyTo}
            hint="Empty: the tenant's reply-to address." />
          {campaign?.from ? (
            <div class="field">
              <p class="readonly-value"><strong>From:</strong> {campaign.from.name} &lt;{campaign.from.email}&gt;</p>
              <p class="hint">The tenant's sender, changed in Settings.</p>
            </div>
          ) : null}
        </div>
      </fieldset>
      {!readOnly ? (
        <div class="actions">
          <Button variant="primary" type="submit" busy={busy} busyLabel="Saving…">{campaign ? 'Save changes' : 'Create draft'}</Button>
          {saved ? <span class="save-status" role="status">{saved}</span> : <span class="save-status" role="status" />}
        </div>
      ) : null}
    </form>
  );
}
