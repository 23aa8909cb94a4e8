// What a page shows when the signed-in role cannot use it (a typed-in URL: the nav hides such pages):
// the page's h1 and a plain "Only admins can …" notice, and no action buttons.
import { Notice } from './notice';
import { PageHeader } from './page';

/**
 * The whole page for a role that lacks the admin scope. `title` is the page's h1; `what` finishes the
 * sentence "Only admins can …" (e.g. "add sending domains and publish their DNS records").
 */
export function AdminOnly({ title, what }: { title: string; what: string }) {
  return (
    <>
      <PageHeader title={title} />
      <Notice kind="info" title={`Only admins can ${what}.`}>
        Your role cannot use this page. Ask an admin of this account if you need a change here.
      </Notice>
    </>
  );
}
