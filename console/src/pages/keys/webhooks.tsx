// The webhooks section: endpoints (create, edit, disable/enable, rotate the secret, delete) and, for the
// endpoint named by ?webhook=<id>, its delivery log with replays.
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, withQuery, type Page } from '../../api';
import { useSession } from '../../session';
import { Button, ConfirmDialog, EmptyState, Loading, Notice, Section, Table, errorMessage, formatDate, useAsync } from '../../ui';
import { OneTimeSecret } from '../../ui/secret';
import { Deliveries } from './deliveries';
import { WebhookForm } from './webhook-form';
import type { Endpoint, EndpointWithSecret } from './types';

type Confirm = { kind: 'rotate' | 'delete'; endpoint: Endpoint };

/** GET/POST/PATCH/DELETE /api/webhooks, POST /api/webhooks/:id/rotate-secret. */
export function WebhooksSection() {
  const { canWrite, timeZone } = useSession();
  const { query, route, path } = useLocation();
  const list = useAsync(() => api.get<Page<Endpoint>>('/api/webhooks'), []);
  const [editing, setEditing] = useState<Endpoint | 'new' | null>(null);
  const [secret, setSecret] = useState<{ endpoint: Endpoint; secret: string; rotated: boolean } | null>(null);
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirmError, setConfirmError] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);

  const endpoints = list.data?.items ?? [];
  const shown = query.webhook ? endpoints.find((e) => e.id === query.webhook) : undefined;
  const showLog = (id: string | null) => route(withQuery(path, { webhook: id ?? undefined }));

  async function setEnabled(e: Endpoint, enabled: boolean) {
    setBusy(e.id);
    setNotice(null);
    try {
      await api.patch(`/api/webhooks/${e.id}`, { enabled });
      setNotice({ kind: 'success', text: `${e.url} is ${enabled ? 'enabled' : 'disabled'}.` });
      await list.reload();
    } catch (err) {
      setNotice({ kind: 'error', text: errorMessage(err) });
    } finally {
      setBusy(null);
    }
  }

  async function confirmed() {
    if (!confirm) return;
    const { kind, endpoint } = confirm;
    setBusy(endpoint.id);
    setConfirmError(null);
    try {
      if (kind === 'rotate') {
        const r = await api.post<EndpointWithSecret>(`/api/webhooks/${endpoint.id}/rotate-secret`);
        if (r.secret) setSecret({ endpoint: r, secret: r.secret, rotated: true });
      } else {
        await api.del(`/api/webhooks/${endpoint.id}`);
        setNotice({ kind: 'success', text: `${endpoint.url} is deleted.` });
        if (query.webhook === endpoint.id) showLog(null);
      }
      setConfirm(null);
      await list.reload();
    } catch (err) {
      setConfirmError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <Section id="webhooks" title="Webhooks" actions={canWrite && editing === null ? <Button variant="primary" onClick={() => { setEditing('new'); setSecret(null); setNotice(null); }}>Add endpoint</Button> : null}>
      <p class="hint">Postgate POSTs each event to these addresses, signed (Standard Webhooks), and retries on failure.</p>
      {secret ? (
        <OneTimeSecret title={secret.rotated ? `The new signing secret of ${secret.endpoint.url}` : `The signing secret of ${secret.endpoint.url}`} value={secret.secret} what="signing secret" onDone={() => setSecret(null)}>
          Copy it now: it is not shown again.{secret.rotated ? ' For 24 hours deliveries are signed with both the old and the new secret.' : ''}
        </OneTimeSecret>
      ) : null}
      {notice ? <Notice kind={notice.kind}>{notice.text}</Notice> : null}
      {editing !== null ? (
        <WebhookForm endpoint={editing === 'new' ? undefined : editing} onCancel={() => setEditing(null)} onSaved={(e) => {
          setEditing(null);
          if ('secret' in e && e.secret) setSecret({ endpoint: e, secret: e.secret, rotated: false });
          else setNotice({ kind: 'success', text: `${e.url} is saved.` });
          void list.reload();
        }} />
      ) : null}
      {list.error ? <Notice kind="error">{errorMessage(list.error)}</Notice> : list.loading && !list.data ? <Loading /> : endpoints.length === 0 ? (
        <EmptyState title="No webhook endpoints yet." />
      ) : (
        <Table<Endpoint> caption="Webhook endpoints" captionHidden rows={endpoints} rowKey={(e) => e.id} columns={[
          { label: 'URL', render: (e) => <><span class="break">{e.url}</span>{e.description ? <div class="muted">{e.description}</div> : null}</> },
          { label: 'Events', render: (e) => (e.types.includes('*') ? 'all' : e.types.join(', ')) },
          { label: 'State', render: (e) => (e.enabled ? <span class="badge badge--ok">enabled</span>
            : <><span class="badge badge--bad">disabled</span>{e.disabledReason ? <div class="muted">{e.disabledReason}</div> : null}</>) },
          { label: 'Last success', render: (e) => (e.lastSuccessAt ? formatDate(e.lastSuccessAt, timeZone) : <span class="muted">never</span>) },
          { label: 'Actions', hideLabel: true, render: (e) => (
            <div class="actions">
              <Button onClick={() => showLog(e.id)} aria-label={`Deliveries to ${e.url}`} aria-pressed={shown?.id === e.id ? 'true' : 'false'}>Deliveries</Button>
              {canWrite ? <>
                <Button onClick={() => { setEditing(e); setSecret(null); }} aria-label={`Edit ${e.url}`}>Edit</Button>
                <Button onClick={() => setEnabled(e, !e.enabled)} busy={busy === e.id && !confirm} aria-label={`${e.enabled ? 'Disable' : 'Enable'} ${e.url}`}>{e.enabled ? 'Disable' : 'Enable'}</Button>
                <Button onClick={() => { setConfirmError(null); setConfirm({ kind: 'rotate', endpoint: e }); }} aria-label={`Rotate the secret of ${e.url}`}>Rotate secret</Button>
                <Button variant="danger" onClick={() => { setConfirmError(null); setConfirm({ kind: 'delete', endpoint: e }); }} aria-label={`Delete ${e.url}`}>Delete</Button>
              </> : null}
            </div>
          ) },
        ]} />
      )}
      {shown ? <Deliveries key={shown.id} endpoint={shown} onClose={() => showLog(null)} /> : null}
      <ConfirmDialog open={confirm !== null} busy={busy !== null && confirm !== null} error={confirmError} onConfirm={confirmed} onCancel={() => setConfirm(null)}
        danger={confirm?.kind === 'delete'}
        title={confirm?.kind === 'delete' ? `Delete the endpoint ${confirm.endpoint.url}?` : `Rotate the signing secret of ${confirm?.endpoint.url ?? ''}?`}
        confirmLabel={confirm?.kind === 'delete' ? 'Delete endpoint' : 'Rotate secret'}>
        {confirm?.kind === 'delete'
          ? <p>The endpoint and its delivery log are removed; pending deliveries are not sent.</p>
          : <p>A new secret is made and shown once. For 24 hours deliveries carry signatures with both secrets, so the receiver can switch.</p>}
      </ConfirmDialog>
    </Section>
  );
}
