// What a campaign template may use (GET /api/template-variables): each variable with an Insert button
// that puts {{variable}} at the cursor of the field last edited, then the helpers and the rules.
import { Button, Loading, Notice, errorMessage, useAsync } from '../../ui';
import { api } from '../../api';
import type { TemplateVariables } from './types';

export interface VariablesPanelProps {
  /** Inserts the text in the field last edited; absent when the template cannot be edited (viewers). */
  onInsert?: (text: string) => void;
  /** The field an Insert button writes into ("MJML", "Subject", "Text part"). */
  target: string;
}

/** Object variables (attributes) are used by a key: {{attributes.city}}; they get no Insert button. */
const insertable = (type: string): boolean => type !== 'object' && type !== 'array';

export function VariablesPanel({ onInsert, target }: VariablesPanelProps) {
  const vars = useAsync(() => api.get<TemplateVariables>('/api/template-variables'), []);
  return (
    <section class="variables" aria-labelledby="vars-h">
      <h2 id="vars-h">Variables</h2>
      {onInsert ? <p class="hint">Insert puts the variable at the cursor in the <strong>{target}</strong> (the field you were last in).</p> : null}
      {vars.error ? <Notice kind="error">{errorMessage(vars.error)}</Notice> : null}
      {!vars.data && vars.loading ? <Loading what="Loading the variables" /> : null}
      {vars.data ? (
        <>
          <ul class="var-list">
            {vars.data.campaign.map((v) => (
              <li key={v.name}>
                <div class="var-head">
                  <code>{`{{${v.name}}}`}</code>
                  {onInsert && insertable(v.type)
                    ? <Button variant="secondary" class="btn--small" aria-label={`Insert {{${v.name}}}`} onClick={() => onInsert(`{{${v.name}}}`)}>Insert</Button>
                    : null}
                </div>
                <p class="hint">{v.description}</p>
              </li>
            ))}
          </ul>
          <details>
            <summary>Helpers</summary>
            <ul class="var-list">
              {vars.data.helpers.map((h) => (
                <li key={h.name}><code>{h.usage}</code><p class="hint">{h.description} <code>{h.example}</code> → <code>{h.output}</code></p></li>
              ))}
            </ul>
          </details>
          <details>
            <summary>Rules</summary>
            <ul class="rules">{vars.data.rules.map((r, i) => <li key={i}>{r}</li>)}</ul>
          </details>
        </>
      ) : null}
    </section>
  );
}
