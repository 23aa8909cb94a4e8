// Domains: add a sending domain, publish its DNS records (copy buttons), check them, add DKIM keys.
// Everything goes through /api/domains and /api/dkim (src/tenants/domains-api.ts).
import { useState } from 'preact/hooks';
import { api, isApiFailure } from '../api';
import { useSession } from '../session';
import { Button, EmptyState, Loading, Notice, PageHeader, Pager, Section, TextInput, errorMessage, formErrors, useApiList, type FormErrors } from '../ui';
import { AdminOnly } from '../ui/role-gate';
import { DomainCard } from './domains/domain-card';
import type { DomainDetail, DomainSummary } from './domains/types';
import './domains.css';

export default function DomainsPage() {
  const { can } = useSession();
  if (!can('admin')) return <AdminOnly title="Domains" what="add sending domains and check their DNS records" />;
  return <Domains />;
}

function Domains() {
  const { canWrite, timeZone } = useSession();
  const list = useApiList<DomainSummary>('/api/domains', 20);
  const [domain, setDomain] = useState('');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FormErrors>({});
  const [added, setAdded] = useState<string | null>(null);

  async function add(e: Event) {
    e.preventDefault();
    setBusy(true); setErrors({}); setAdded(null);
    try {
      const d = await api.post<DomainDetail>('/api/domains', { domain });
      setAdded(`${d.domain} added: publish its records below, then check DNS.`);
      setDomain('');
      await list.reload();
    } catch (err) {
      setErrors(formErrors(err, ['domain']));
      document.getElementById('new-domain')?.focus();
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <PageHeader title="Domains" subtitle="The domains you send from: publish these DNS records so mailbox providers trust your mail." />
      {canWrite ? (
        <Section title="Add a domain" id="add-domain">
          <form class="domain-add" onSubmit={add} noValidate>
            <TextInput label="Domain" id="new-domain" value={domain} onValue={setDomain} error={errors.domain} required
              placeholder="news.example.org" autoComplete="off" spellcheck={false} hint="The domain of your From address, e.g. example.org." />
            <Button variant="primary" type="submit" busy={busy} busyLabel="Adding…">Add domain</Button>
          </form>
          {errors._form ? <Notice kind="error" title="The domain was not added">{errors._form}</Notice> : null}
          {added ? <Notice kind="success">{added}</Notice> : null}
        </Section>
      ) : null}
      {list.error ? (
        <Notice kind="error" title="The domains could not be loaded">
          {isApiFailure(list.error) && list.error.status === 403 ? 'Only an admin can see the sending domains.' : errorMessage(list.error)}
        </Notice>
      ) : null}
      {list.loading && list.items.length === 0 ? <Loading what="Loading the domains" /> : null}
      {!list.loading && !list.error && list.items.length === 0 ? <EmptyState title="No sending domain yet." /> : null}
      {list.items.map((d) => <DomainCard key={d.domain} name={d.domain} timeZone={timeZone} canWrite={canWrite} onChanged={() => void list.reload()} />)}
      <Pager hasPrev={list.hasPrev} nextCursor={list.nextCursor} onPrev={list.prev} onNext={list.next} busy={list.loading} label="Domains pages" />
    </>
  );
}
