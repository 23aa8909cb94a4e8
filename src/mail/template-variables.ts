// What a template can use (PURE data, no imports): the variables Postgate gives a campaign template
// and a notice template, the helpers, and the rules the compiler enforces. One constant, shown in the
// README ("Templates") and in /openapi.json; test/mail/render.test.ts checks it against the
// compiler (helpers, limits) and against the data the renderers really give.

/** One variable: its Handlebars path, JSON type, meaning and an example value. */
export interface TemplateVariable {
  readonly name: string;
  readonly type: 'string' | 'number' | 'boolean' | 'object' | 'array' | 'string|null';
  readonly description: string;
  readonly example: string | number | boolean | null | readonly string[] | Readonly<Record<string, unknown>>;
}

/** One helper: how it is called, what it does, and an example call with its output. */
export interface TemplateHelperDoc {
  readonly name: string;
  readonly usage: string;
  readonly description: string;
  readonly example: string;
  readonly output: string;
}

export interface TemplateVariables {
  /** Data of each recipient of a campaign (and of a test send and a preview: sample values there). */
  readonly campaign: readonly TemplateVariable[];
  /** Data of a notice (POST /api/messages, kind account/technical/legal/support), built-in or stored template. */
  readonly notice: readonly TemplateVariable[];
  /** Helpers besides Handlebars' block helpers if, unless, each and with. */
  readonly helpers: readonly TemplateHelperDoc[];
  /** What the compiler refuses or rewrites, and the limits. */
  readonly rules: readonly string[];
  readonly limits: {
    readonly mjmlChars: number; readonly textChars: number; readonly tags: number; readonly htmlChars: number;
    /** {{#each}} nesting refused above this depth. */
    readonly eachDepth: number;
    /** Per message: block iterations, template statements evaluated in blocks, characters of a rendered part. */
    readonly renderIterations: number; readonly renderTags: number; readonly renderedChars: number;
    readonly compileSeconds: number;
  };
}

/**
 * The variables a template can use, per kind of message, with the helpers and rules. Plain JSON-safe
 * data: safe to serialise into an API document as it is.
 */
export const TEMPLATE_VARIABLES: TemplateVariables = {
  campaign: [
    { name: 'name', type: 'string', description: "The contact's name ('' when unknown).", example: 'Jane Doe' },
    { name: 'email', type: 'string', description: "The contact's email address.", example: 'jane.doe@example.com' },
    { name: 'attributes', type: 'object', description: "The contact's attributes as stored (JSON object): {{attributes.city}}.", example: { city: 'Lyon', plan: 'pro' } },
    { name: 'contact.name', type: 'string', description: 'Same as name.', example: 'Jane Doe' },
    { name: 'contact.email', type: 'string', description: 'Same as email.', example: 'jane.doe@example.com' },
    { name: 'contact.attributes', type: 'object', description: 'Same as attributes.', example: { city: 'Lyon' } },
    { name: 'unsubscribeUrl', type: 'string', description: 'The one-click unsubscribe link of this recipient (Postgate adds one to the footer when the template shows none).', example: 'https://postgate.example/u/QmpdPx4fth…' },
    { name: 'preferencesUrl', type: 'string', description: "The recipient's preference page.", example: 'https://postgate.example/u/QmpdPx4fth…/preferences' },
    { name: 'postalAddress', type: 'string', description: "The tenant's postal address (Postgate adds it to the footer when the template omits it).", example: '1 Main Street, Springfield' },
    { name: 'tenantName', type: 'string', description: "The sender's (tenant's) name.", example: 'Acme' },
    { name: 'tenant.name', type: 'string', description: 'Same as tenantName.', example: 'Acme' },
    { name: 'campaign.id', type: 'string', description: "The campaign's id.", example: '5f0c…' },
    { name: 'campaign.name', type: 'string', description: "The campaign's name.", example: 'March news' },
    { name: 'campaignName', type: 'string', description: 'Same as campaign.name.', example: 'March news' },
  ],
  notice: [
    { name: 'subject', type: 'string', description: "Given in data: replaces the built-in template's default subject.", example: 'Your password was changed' },
    { name: 'preview', type: 'string', description: 'Given in data: the inbox preview line.', example: 'Nothing to do if it was you' },
    { name: 'body', type: 'string', description: 'Given in data: plain text; blank lines separate paragraphs.', example: 'We changed your password.\n\nIf this was not you, reply.' },
    { name: 'paragraphs', type: 'array', description: 'body split into paragraphs, for {{#each paragraphs}}.', example: ['We changed your password.', 'If this was not you, reply.'] },
    { name: 'actionUrl', type: 'string', description: 'Given in data: the button link (http, https or mailto only).', example: 'https://app.example/security' },
    { name: 'actionLabel', type: 'string', description: "Given in data: the button's text.", example: 'Review' },
    { name: '<key>', type: 'string', description: 'Any other key given in data, as given (HTML-escaped in the HTML part).', example: 'ticket 4521' },
    { name: 'tenantName', type: 'string', description: "The sender's (tenant's) name.", example: 'Acme' },
    { name: 'fromName', type: 'string', description: "The tenant's From display name.", example: 'Acme Support' },
    { name: 'postalAddress', type: 'string|null', description: "The tenant's postal address.", example: '1 Main Street, Springfield' },
    { name: 'contactName', type: 'string|null', description: "The contact's name.", example: 'Jane Doe' },
    { name: 'email', type: 'string|null', description: "The contact's email address.", example: 'jane.doe@example.com' },
    { name: 'name', type: 'string', description: "The contact's name ('' when unknown), as in campaign templates.", example: 'Jane Doe' },
    { name: 'contact.name', type: 'string', description: 'Same as name.', example: 'Jane Doe' },
    { name: 'contact.email', type: 'string|null', description: 'Same as email.', example: 'jane.doe@example.com' },
  ],
  helpers: [
    { name: 'default', usage: '{{default value fallback}}', description: 'value, or fallback when value is missing, null, empty or [].', example: '{{default name "friend"}}', output: 'friend' },
    { name: 'urlencode', usage: '{{urlencode value}}', description: 'Percent-encodes a value for a URL query (encodeURIComponent).', example: 'https://shop.example/?q={{urlencode attributes.city}}', output: 'https://shop.example/?q=S%C3%A3o%20Paulo' },
    { name: 'formatDate', usage: '{{formatDate isoDate [locale] [style]}}', description: "An ISO date (YYYY-MM-DD, or a datetime: its date as written) in the locale (default en) and style full, long (default), medium or short; '' when not a date. locale= and style= may be given as hash arguments.", example: '{{formatDate attributes.renewal "de-DE" "medium"}}', output: '01.03.2026' },
    { name: 'formatMoney', usage: '{{formatMoney minorUnits currency [locale]}}', description: "An integer amount in the currency's minor units (ISO 4217 exponent: cents, yen…) with the ISO 4217 code, in the locale (default en); '' when not valid.", example: '{{formatMoney 123450 "EUR" "de-DE"}}', output: '1.234,50 €' },
  ],
  rules: [
    'Handlebars with if, unless, each, with and the helpers above only; any other helper (log, lookup, helperMissing, blockHelperMissing, …), partials and decorators are refused (422 invalid_template, with the line).',
    'Blocks are {{#if x}}, {{#unless x}}, {{#each x}} and {{#with x}} only: a block of a value ({{#foo}}…{{/foo}}, {{^foo}}…{{/foo}}) and raw blocks ({{{{raw}}}}…{{{{/raw}}}}) are refused. {{#each}} may nest 3 deep.',
    'Per message, a render may run 10,000 block iterations ({{#each}} items, {{#with}} bodies), evaluate 25,000 template tags inside them and make 2 MiB per part (HTML, text): over that budget the message fails (render_error) and a preview answers 422 render_failed ("exceeds the render budget").',
    'A payment-card number in the template\'s own text (as a reader sees it: entities decoded, markup ignored) or text part is refused (422 card_data_rejected); one that merge data puts in a message is redacted from the stored body.',
    'Values are HTML-escaped in the MJML; raw output ({{{…}}} or {{&…}}) is refused in every part.',
    'A template tag in a URL attribute (href, src, background, action, …) must make an http, https or mailto URL: a value with another scheme (javascript:, data:, …) renders as "#". A literal URL may also be tel: or cid:.',
    'In a style attribute or <style>, a value is CSS-escaped (it cannot leave its string or declaration); at the start of url(…) it must be an http(s) URL, else it renders empty.',
    'Template tags are refused in <script>, in event-handler attributes (on…), in srcset, in tag or attribute names and in unquoted attribute values.',
    'No prototype access: constructor, __proto__ and other inherited properties resolve to nothing.',
  ],
  limits: {
    mjmlChars: 256 * 1024, textChars: 256 * 1024, tags: 1000, htmlChars: 1024 * 1024,
    eachDepth: 3, renderIterations: 10_000, renderTags: 25_000, renderedChars: 2 * 1024 * 1024, compileSeconds: 5,
  },
};
