// One template: name, subject, the MJML (with line numbers and its errors on their lines), an optional
// text part, a live preview of the unsaved content (POST /api/templates/preview, debounced), the
// variables with Insert buttons, save (a new version) and a test send. The API validates and renders;
// this page only shows what it answers.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, isApiFailure } from '../../api';
import { Button, Loading, Notice, PageHeader, TextInput, Textarea, errorMessage, formErrors, useAsync, type FormErrors } from '../../ui';
import { useSession } from '../../session';
import { CodeEditor, insertAtCaret } from './code-editor';
import { PreviewPane } from './preview-pane';
import { TestSendPanel } from './test-send';
import { VariablesPanel } from './variables';
import { issuesOf, type Draft, type Preview, type Template, type TemplateIssue } from './types';

/** What a new template starts with: a greeting, the unsubscribe link and the postal address. */
export const STARTER_MJML = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text font-size="20px">Hello {{name}},</mj-text>
        <mj-text>Write your message here.</mj-text>
        <mj-text font-size="12px" color="#555555">
          <a href="{{unsubscribeUrl}}">Unsubscribe</a> · {{postalAddress}}
        </mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
`;

/** Milliseconds of quiet typing before the preview is asked for. */
export const PREVIEW_DEBOUNCE_MS = 400;

type Part = 'mjml' | 'subject' | 'text';
const PART_LABEL: Record<Part, string> = { mjml: 'MJML', subject: 'Subject', text: 'Text part' };
/** Ids of the plain fields an Insert button may write into. */
const FIELD_IDS = { subject: 'template-subject', text: 'template-text' } as const;

/** Set before moving to a newly created template's page, shown there once. */
let flash: string | null = null;

const draftOf = (t: Template): Draft => ({ name: t.name, subject: t.subject, mjml: t.mjml, text: t.text ?? '' });
const sameDraft = (a: Draft, b: Draft): boolean => a.name === b.name && a.subject === b.subject && a.mjml === b.mjml && a.text === b.text;

/** A part's issues as one line for a Field's error ("Line 1: …; …"). */
function issueText(issues: TemplateIssue[]): string | null {
  if (!issues.length) return null;
  return issues.map((i) => `${i.line !== null ? `Line ${i.line}: ` : ''}${i.message.split('\n')[0]}`).join('; ');
}

export function TemplateEditor({ id }: { id: string | null }) {
  const loaded = useAsync<Template | null>(() => (id ? api.get<Template>(`/api/templates/${id}`) : Promise.resolve(null)), [id]);
  if (loaded.error) {
    return (
      <>
        <PageHeader title="Template" />
        <Notice kind="error">{isApiFailure(loaded.error) && loaded.error.status === 404 ? 'There is no such template.' : errorMessage(loaded.error)}</Notice>
        <p><a href="/console/templates">Back to the templates</a></p>
      </>
    );
  }
  if (loaded.loading && !loaded.data) return <><PageHeader title="Template" /><Loading what="Loading the template" /></>;
  return <Editor saved={loaded.data ?? null} onSaved={(t) => loaded.setData(t)} />;
}

function Editor({ saved, onSaved }: { saved: Template | null; onSaved: (t: Template) => void }) {
  const { canWrite } = useSession();
  const { route } = useLocation();
  const [draft, setDraft] = useState<Draft>(() => (saved ? draftOf(saved) : { name: '', subject: 'News for {{name}}', mjml: STARTER_MJML, text: '' }));
  const [errors, setErrors] = useState<FormErrors>({});
  const [issues, setIssues] = useState<TemplateIssue[]>([]);
  const [saving, setSaving] = useState(false);
  const [notice, setNotice] = useState<string | null>(() => { const f = flash; flash = null; return f; });
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewBusy, setPreviewBusy] = useState(false);
  const [previewError, setPreviewError] = useState<string | null>(null);
  const [stale, setStale] = useState(false);
  const [target, setTarget] = useState<Part>('mjml');
  const mjmlRef = useRef<HTMLTextAreaElement>(null);
  const run = useRef(0);
  const dirty = !saved || !sameDraft(draft, draftOf(saved));

  const set = (k: keyof Draft) => (v: string) => { setDraft((d) => ({ ...d, [k]: v })); setNotice(null); };

  // The live preview of the unsaved content: debounced; a late answer of an older request is dropped.
  useEffect(() => {
    const me = ++run.current;
    // Blank required parts would only be refused (422): no request until both are filled in.
    if (draft.mjml.trim() === '' || draft.subject.trim() === '') {
      setStale(!!preview); setPreviewBusy(false); setIssues([]);
      setPreviewError('Fill in the subject and the MJML to see the preview.');
      return undefined;
    }
    setPreviewBusy(true);
    const timer = setTimeout(async () => {
      try {
        const p = await api.post<Preview>('/api/templates/preview', { mjml: draft.mjml, subject: draft.subject, text: draft.text === '' ? null : draft.text });
        if (me !== run.current) return;
        setPreview(p); setIssues([]); setStale(false); setPreviewError(null);
      } catch (err) {
        if (me !== run.current) return;
        const found = isApiFailure(err) ? issuesOf(err.details) : [];
        if (found.length) { setIssues(found); setStale(true); setPreviewError(null); }
        else {
          setIssues([]); setStale(true);
          setPreviewError(isApiFailure(err) && err.status === 403 ? 'Your role cannot render previews.' : errorMessage(err));
        }
      } finally {
        if (me === run.current) setPreviewBusy(false);
      }
    }, PREVIEW_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [draft.mjml, draft.subject, draft.text]);

  function insert(text: string) {
    const el = target === 'mjml' ? mjmlRef.current : document.getElementById(FIELD_IDS[target]) as HTMLInputElement | HTMLTextAreaElement | null;
    if (!el) return;
    set(target)(insertAtCaret(el, text));
  }

  async function save(e: Event) {
    e.preventDefault();
    setSaving(true); setErrors({}); setNotice(null);
    const body = { name: draft.name, subject: draft.subject, mjml: draft.mjml, text: draft.text === '' ? null : draft.text };
    try {
      if (!saved) {
        const t = await api.post<Template>('/api/templates', body);
        flash = `Saved as version ${t.version}.`;
        route(`/console/templates/${t.id}`);
        return;
      }
      const t = await api.put<Template>(`/api/templates/${saved.id}`, body);
      onSaved(t);
      setDraft(draftOf(t));
      setNotice(`Saved version ${t.version}.`);
    } catch (err) {
      const found = isApiFailure(err) ? issuesOf(err.details) : [];
      if (found.length) { setIssues(found); setErrors({ _form: 'The template has errors: see the fields marked below.' }); }
      else setErrors(formErrors(err, ['name', 'subject', 'mjml', 'text']));
    } finally {
      setSaving(false);
    }
  }

  const partIssues = (p: Part) => issues.filter((i) => i.part === p);
  const title = saved ? `Template: ${saved.name}` : 'New template';
  return (
    <>
      <PageHeader title={title}
        subtitle={saved ? <>Version {saved.version}{dirty ? ' · unsaved changes' : ''}</> : 'Not saved yet'}
        actions={<a href="/console/templates">All templates</a>} />
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      <div class="template-layout">
        <form class="wide template-form" onSubmit={save} aria-label="Template" noValidate>
          {errors._form ? <Notice kind="error">{errors._form}</Notice> : null}
          <TextInput label="Name" value={draft.name} onValue={set('name')} error={errors.name} required readOnly={!canWrite}
            hint="For you and your team; recipients never see it." />
          <TextInput label="Subject" value={draft.subject} onValue={set('subject')} error={errors.subject ?? issueText(partIssues('subject'))} required
            readOnly={!canWrite} id={FIELD_IDS.subject} onFocus={() => setTarget('subject')} />
          <CodeEditor label="MJML" value={draft.mjml} onValue={set('mjml')} required readOnly={!canWrite} issues={partIssues('mjml')}
            textareaRef={mjmlRef} onFocus={() => setTarget('mjml')}
            hint="MJML with Handlebars variables. Postgate adds the unsubscribe link and postal address to the footer when the template has none." />
          {errors.mjml && !partIssues('mjml').length ? <p class="field-error">{errors.mjml}</p> : null}
          <Textarea label="Text part (optional)" value={draft.text} onValue={set('text')} rows={6} readOnly={!canWrite}
            error={errors.text ?? issueText(partIssues('text'))} id={FIELD_IDS.text} onFocus={() => setTarget('text')}
            hint="Leave empty to make the text part from the HTML." />
          {canWrite ? (
            <div class="actions">
              <Button variant="primary" type="submit" busy={saving} busyLabel="Saving…" disabled={!dirty}>{saved ? 'Save new version' : 'Create template'}</Button>
              {dirty && saved ? <Button onClick={() => { setDraft(draftOf(saved)); setErrors({}); }}>Discard changes</Button> : null}
            </div>
          ) : null}
        </form>
        <div class="template-side">
          <PreviewPane preview={preview} stale={stale && !!preview} busy={previewBusy} error={previewError} />
          <VariablesPanel onInsert={canWrite ? insert : undefined} target={PART_LABEL[target]} />
        </div>
      </div>
      <TestSendPanel templateId={saved?.id ?? null} version={saved?.version ?? null} dirty={dirty} />
    </>
  );
}
