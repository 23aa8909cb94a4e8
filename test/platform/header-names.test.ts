// Names and subjects Postgate writes into headers (issue 14): RFC 2047 encoded-words, bidi controls
// (UAX #9), invisible format characters (Cf: zero-width, tags) and NFKC look-alikes of '<', '>' and
// (sender names) '@' (UAX #15) are refused at the API with 422 and the field — tenant name and From name,
// contact name, template, campaign and notice subjects — and a name with quotes, commas,
// semicolons or '@' reaches the wire quoted: a real parser reads exactly the intended address.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { consent } from '../support/mail.js';
import { waitFor } from '../support/wait.js';

const { app, t } = useApp();
let list: string;
let templateId: string;
beforeAll(async () => {
  list = await given(app, t).defaultList();
  templateId = await given(app, t).template();
});

const ENCODED = '=?utf-8?q?Acme=0D=0ABcc:_all@evil.example?=';
const RLO = 'Acme \u202egpj.exe';
const HOSTILE: Array<[string, string]> = [
  ['an encoded-word', ENCODED], ['a B encoded-word', '=?UTF-8?B?QWNtZQ0KQmNjOiB4?='], ['RLO (U+202E)', RLO], ['LRI (U+2066)', 'a\u2066b'],
  ['RLM (U+200F)', 'a\u200fb'], ['ALM (U+061C)', 'a\u061cb'],
];

describe('refused at the API with 422 and the field', () => {
  const INVISIBLE: Array<[string, string]> = [
    ['a zero-width space', 'Ac\u200bme'], ['a ZWJ between Latin letters', 'pay\u200dpal'], ['a word joiner', 'Acme\u2060'],
    ['tag characters (U+E0000–E007F)', 'Acme\u{E0049}\u{E0047}\u{E004E}'], ['a BOM', '\ufeffAcme'], ['only a ZWSP', '\u200b'],
  ];
  const ANGLES: Array<[string, string]> = [
    ['full-width < >', 'Bob \uff1cceo@bank.com\uff1e'], ['small-form < >', 'Bob \ufe64ceo@bank.com\ufe65'], ['single guillemets', 'Bob \u2039ceo\u203a'],
  ];

  it.each([...HOSTILE, ...INVISIBLE, ...ANGLES, ['a full-width @', 'news\uff20 bank.com'], ['a small @', 'news\ufe6b bank.com']])('tenant name and From name: %s', async (_what, v) => {
    for (const field of ['name', 'fromName']) {
      const r = await t.api('PATCH', '/api/tenant', { [field]: v });
      expect(r.status).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'invalid', field });
    }
  });

  it.each([['an address', 'support@bank.example'], ['angle brackets', 'Bank <support@bank.example>']])('a From name with %s', async (_what, v) => {
    const r = await t.api('PATCH', '/api/tenant', { fromName: v });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field: 'fromName' });
  });

  it.each([...HOSTILE, ['angle brackets', 'Pat <boss@bank.example>'], ...INVISIBLE, ...ANGLES])('contact name: %s', async (_what, v) => {
    const r = await t.api('POST', '/api/contacts', { email: 'names@example.org', name: v, newsletter: false, consent });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field: 'name' });
  });

  it.each([...HOSTILE, ...INVISIBLE])('template, campaign and notice subjects: %s', async (_what, v) => {
    const tpl = await t.api('POST', '/api/templates', { name: 'Hostile', mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section></mj-body></mjml>', subject: v });
    expect(tpl.status).toBe(422);
    expect(tpl.body.error).toMatchObject({ code: 'invalid', field: 'subject' });
    const campaign = await t.api('POST', '/api/campaigns', { name: 'Hostile', templateId, listIds: [list], subject: v });
    expect(campaign.status).toBe(422);
    expect(campaign.body.error).toMatchObject({ code: 'invalid', field: 'subject' });
    const notice = await t.api('POST', '/api/messages', { kind: 'account', contact: 'pat@example.org', template: 'account', data: { body: 'x', subject: v } });
    expect(notice.status).toBe(422);
    expect(notice.body.error).toMatchObject({ code: 'invalid', field: 'data.subject' });
  });

  it('accepts emoji ZWJ sequences, Persian joiners and full-width letters', async () => {
    const r = await t.api('PATCH', '/api/tenant', { name: 'Dev \u{1F469}\u200d\u{1F4BB} \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645', fromName: '\uff21cme News' });
    expect(r.status).toBe(200);
    const c = await t.api('POST', '/api/contacts', { email: 'fw-at@example.org', name: 'Ann \uff20 home', newsletter: false, consent });
    expect(c.status).toBe(201); // a contact name may hold '@', so its look-alike too: it is quoted
  });

  it('still accepts ordinary names, RTL scripts, quotes and commas', async () => {
    const r = await t.api('PATCH', '/api/tenant', { name: 'Acme, Inc. "Best"', fromName: 'שלום Acme; News' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'Acme, Inc. "Best"', fromName: 'שלום Acme; News' });
  });
});

describe('on the wire', () => {
  it('quotes a contact name with quotes, commas, semicolons and @: To holds exactly the intended address', async () => {
    const name = 'Smith, John "JJ"; boss@bank.example';
    const email = 'quoted-name@example.org';
    const c = await t.api('POST', '/api/contacts', { email, name, newsletter: false, consent });
    expect(c.status).toBe(201);
    const r = await t.api('POST', '/api/messages', { kind: 'account', contact: email, template: 'account', data: { body: 'Your account changed.' } });
    expect(r.status).toBe(202);
    const mail = await waitFor(() => app.sink.received.find((m) => m.envelopeTo.includes(email)), { timeout: 10_000, message: () => 'no mail' });
    const to = Array.isArray(mail.parsed.to) ? mail.parsed.to : [mail.parsed.to];
    expect(to.flatMap((a) => a?.value ?? [])).toEqual([{ address: email, name }]);
    expect(mail.parsed.from?.value).toEqual([{ address: 'news@acme.org', name: 'שלום Acme; News' }]);
    expect(mail.parsed.cc).toBeUndefined();
    expect(mail.parsed.bcc).toBeUndefined();
  });
});
