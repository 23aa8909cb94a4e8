// Templates: the list (/console/templates), a new template (/console/templates/new) and one template's
// editor (/console/templates/:id). Everything goes through the JSON API; see ./templates/.
import { useRoute } from 'preact-iso';
import { TemplateEditor } from './templates/editor';
import { TemplateList } from './templates/list';
import './templates.css';

export default function TemplatesPage() {
  const { params } = useRoute();
  if (!params.id) return <TemplateList />;
  return <TemplateEditor key={params.id} id={params.id === 'new' ? null : params.id} />;
}
