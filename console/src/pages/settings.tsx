// Settings: the tenant's sender identity, postal address and branding, read with GET /api/tenant
// and saved with PATCH /api/tenant (only the fields changed). Every rule (verified From domain,
// https URLs, the accent colour's contrast) is the server's: its errors show on the field they name.
import { useEffect, useState } from 'preact/hooks';
import { api, isApiFailure } from '../api';
import { useSession } from '../session';
import { Button, Loading, Notice, PageHeader, Section, Select, TextInput, Textarea, errorMessage, formErrors, useAsync, type FormErrors } from '../ui';
import { AdminOnly } from '../ui/role-gate';
import './settings.css';

/** GET /api/tenant's body (the fields this page edits, and the rest it leaves alone). */
interface Tenant {
  id: string; name: string; fromEmail: string; fromName: string; replyTo: string; postalAddress: string | null;
  defaultLocale: string; logoUrl: string | null; accentColor: string | null; privacyUrl: string | null;
}

type Form = Record<Fields, string>;
const FIELDS = ['name', 'fromName', 'fromEmail', 'replyTo', 'postalAddress', 'logoUrl', 'accentColor', 'privacyUrl', 'defaultLocale'] as const;
type Fields = (typeof FIELDS)[number];
/** Fields the API takes as null when empty. */
const NULLABLE: readonly Fields[] = ['postalAddress', 'logoUrl', 'accentColor', 'privacyUrl'];
const LOCALES = [{ value: 'en', label: 'English (en)' }, { value: 'de', label: 'German (de)' }, { value: 'fr', label: 'French (fr)' }, { value: 'es', label: 'Spanish (es)' }];

const toForm = (t: Tenant): Form => ({
  name: t.name, fromName: t.fromName, fromEmail: t.fromEmail, replyTo: t.replyTo, postalAddress: t.postalAddress ?? '',
  logoUrl: t.logoUrl ?? '', accentColor: t.accentColor ?? '', privacyUrl: t.privacyUrl ?? '', defaultLocale: t.defaultLocale,
});

/** Every field error of a 422 (details.errors lists up to 20), else formErrors' one. */
function allErrors(err: unknown): FormErrors {
  const out: FormErrors = {};
  const list = isApiFailure(err) && Array.isArray(err.details.errors) ? err.details.errors as { field?: unknown; message?: unknown }[] : [];
  for (const e of list) {
    const f = typeof e.field === 'string' ? e.field : '';
    if ((FIELDS as readonly string[]).includes(f) && typeof e.message === 'string' && !out[f]) out[f] = e.message;
  }
  return Object.keys(out).length ? out : formErrors(err, FIELDS);
}

export default function SettingsPage() {
  const { can } = useSession();
  if (!can('admin')) return <AdminOnly title="Settings" what="see and change the account settings (sender, postal address, branding)" />;
  return <Settings />;
}

function Settings() {
  const { canWrite } = useSession();
  const tenant = useAsync(() => api.get<Tenant>('/api/tenant'), []);
  const [form, setForm] = useState<Form | null>(null);
  const [errors, setErrors] = useState<FormErrors>({});
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => { if (tenant.data) setForm(toForm(tenant.data)); }, [tenant.data]);

  const set = (k: Fields) => (v: string) => { setForm((f) => (f ? { ...f, [k]: v } : f)); setSaved(null); };

  async function save(e: Event) {
    e.preventDefault();
    if (!form || !tenant.data) return;
    const before = toForm(tenant.data);
    const patch: Record<string, string | null> = {};
    for (const k of FIELDS) if (form[k] !== before[k]) patch[k] = NULLABLE.includes(k) && form[k].trim() === '' ? null : form[k];
    setErrors({});
    setSaved(null);
    if (Object.keys(patch).length === 0) { setSaved('Nothing changed.'); return; }
    setSaving(true);
    try {
      const next = await api.patch<Tenant>('/api/tenant', patch);
      tenant.setData(next);
      setSaved('Settings saved.');
    } catch (err) {
      const fe = allErrors(err);
      setErrors(fe);
      const first = FIELDS.find((f) => fe[f]);
      if (first) document.getElementById(`settings-${first}`)?.focus();
    } finally {
      setSaving(false);
    }
  }

  if (tenant.error) {
    return (
      <>
        <PageHeader title="Settings" />
        <Notice kind="error" title="The settings could not be loaded">
          {isApiFailure(tenant.error) && tenant.error.status === 403 ? 'Only an admin can see and change the settings.' : errorMessage(tenant.error)}
        </Notice>
      </>
    );
  }
  if (!form) return <><PageHeader title="Settings" /><Loading what="Loading the settings" /></>;

  const ro = !canWrite;
  const field = (k: Fields) => ({ id: `settings-${k}`, value: form[k], onValue: set(k), error: errors[k], readOnly: ro });
  const accentOk = /^#[0-9a-f]{6}$/i.test(form.accentColor);
  return (
    <>
      <PageHeader title="Settings" subtitle="How your mail and your public pages present you." />
      <form class="settings-form" onSubmit={save} noValidate>
        {errors._form ? <Notice kind="error" title="The settings were not saved">{errors._form}</Notice> : null}
        <Section title="Sender identity" id="sender">
          <TextInput label="Organisation name" {...field('name')} required hint="Shown in subjects such as “Confirm your subscription to …”." />
          <TextInput label="From name" {...field('fromName')} required autoComplete="organization" />
          <TextInput label="From address" type="email" {...field('fromEmail')} required autoComplete="off"
            hint="Its domain must be verified on the Domains page." />
          <TextInput label="Reply-to address" type="email" {...field('replyTo')} required autoComplete="off" />
        </Section>
        <Section title="Legal footer" id="postal">
          <Textarea label="Postal address" {...field('postalAddress')} rows={3}
            hint="Printed in the footer of every campaign: the law (CAN-SPAM and others) asks for a physical address." />
        </Section>
        <Section title="Branding" id="branding">
          <TextInput label="Logo URL" type="url" {...field('logoUrl')} placeholder="https://…" hint="An https image shown on public pages and built-in mail. Leave empty for none." />
          <div class="settings-accent">
            <TextInput label="Accent colour" {...field('accentColor')} placeholder="#1d4ed8" maxLength={7}
              hint="#rrggbb, used for buttons and links: white text on it must reach 4.5:1 contrast. Leave empty for the default." />
            {accentOk ? <span class="settings-swatch" style={{ background: form.accentColor }} aria-hidden="true" /> : null}
          </div>
          <TextInput label="Privacy policy URL" type="url" {...field('privacyUrl')} placeholder="https://…" hint="Linked from every public page and built-in mail." />
          <Select label="Default language" id="settings-defaultLocale" value={form.defaultLocale} onValue={set('defaultLocale')} options={LOCALES}
            error={errors.defaultLocale} disabled={ro} hint="For pages and mail when neither the contact nor the browser names a language." />
        </Section>
        {canWrite ? (
          <div class="actions">
            <Button variant="primary" type="submit" busy={saving} busyLabel="Saving…">Save settings</Button>
            <span role="status" class="settings-saved">{saved ?? ''}</span>
          </div>
        ) : <p class="muted">You can read the settings; an admin can change them.</p>}
      </form>
    </>
  );
}
