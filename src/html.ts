// HTML text (PURE): the one escaper, the `html` tagged template, and the one shell of every public
// page (activation, unsubscribe, preferences): plain server-rendered markup, tenant-branded,
// accessible (lang, title, landmarks, labelled controls, visible focus), readable without CSS and
// working without JavaScript. Every interpolated value is escaped by the `html` tag unless it is
// itself Html built by the tag. Sending a page (its headers) is platform/http.ts `sendPage`.

/** Escapes the five characters that matter in HTML text and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c] as string));
}

export class Html {
  constructor(readonly value: string) {}
  toString(): string { return this.value; }
}

function render(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

/** Tagged template: literal parts are trusted markup, interpolations are escaped. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((v, i) => { out += render(v) + strings[i + 1]; });
  return new Html(out);
}

/**
 * The sender's brand on a page (issue 20): name, postal address, and optionally a logo (https URL),
 * an accent colour ('#rrggbb', contrast-checked against white when stored) and a privacy-policy URL.
 */
export interface Brand {
  name: string; postalAddress: string | null;
  logoUrl?: string | null; accentColor?: string | null; privacyUrl?: string | null;
}

export interface PageSpec {
  title: string; brand: Brand | null; body: Html;
  /** BCP 47 language of the page (`<html lang>`); default 'en'. */
  lang?: string;
  /** Writing direction (`<html dir>`); default 'ltr'. */
  dir?: 'ltr' | 'rtl';
  /** Footer words in the page's language; default English. */
  labels?: { privacy: string; logo: string };
}

const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;background:#f4f4f5;color:#18181b;margin:0;padding:2rem 1rem;line-height:1.5}
main{max-width:36rem;margin:0 auto;background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.45rem;margin-top:0}.brand{font-weight:700;color:#3f3f46;margin:0 0 1rem}
button{font:inherit;font-size:1.05rem;padding:.65rem 1.3rem;border:2px solid #1d4ed8;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer;margin:.25rem .5rem .25rem 0}
button.secondary{background:#fff;color:#1d4ed8}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #b45309;outline-offset:2px}
a{color:#1d4ed8}fieldset{border:1px solid #d4d4d8;border-radius:6px;margin:1rem 0;padding:.5rem 1rem 1rem}
legend{font-weight:700;padding:0 .3rem}.option{display:flex;gap:.6rem;align-items:flex-start;margin:.6rem 0}
.option input{width:1.2rem;height:1.2rem;margin-top:.2rem}.hint{display:block;color:#52525b;font-size:.92rem}
.status{background:#ecfdf5;border:1px solid #047857;border-radius:6px;padding:.6rem 1rem}
.error{background:#fef2f2;border:1px solid #b91c1c;border-radius:6px;padding:.6rem 1rem}
footer{max-width:36rem;margin:1rem auto 0;color:#52525b;font-size:.85rem;text-align:center}
input[type=email],input[type=text]{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;border:1px solid #71717a;border-radius:6px}
.option-field{margin:1rem 0}.option-field .error{margin:.3rem 0}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.logo{display:block;max-height:48px;width:auto}`;

const ACCENT = /^#[0-9a-f]{6}$/i;

/**
 * The parts of a brand that may be drawn, as stored values are checked again where they are drawn
 * (pages here, built-in mail in mail/builtin.ts): the logo only over https, the accent colour only as
 * '#rrggbb' (lower-cased), the privacy link only over http(s); null otherwise.
 */
export function drawableBrand(b: Pick<Brand, 'logoUrl' | 'accentColor' | 'privacyUrl'>): { logoUrl: string | null; accentColor: string | null; privacyUrl: string | null } {
  return {
    logoUrl: b.logoUrl?.startsWith('https://') ? b.logoUrl : null,
    accentColor: b.accentColor && ACCENT.test(b.accentColor) ? b.accentColor.toLowerCase() : null,
    privacyUrl: b.privacyUrl && /^https?:\/\//.test(b.privacyUrl) ? b.privacyUrl : null,
  };
}

/** The tenant's accent colour over the default blue (buttons, links); nothing when unset or malformed. */
function accentStyle(brand: Brand | null): Html | '' {
  const c = brand ? drawableBrand(brand).accentColor : null;
  if (!c) return '';
  return new Html(`<style>button{border-color:${c};background:${c}}button.secondary{color:${c}}a{color:${c}}</style>`);
}

function brandHeader(brand: Brand | null, logoLabel: string): Html | '' {
  if (!brand) return '';
  const { logoUrl } = drawableBrand(brand);
  const logo = logoUrl
    ? html`<img class="logo" src="${logoUrl}" alt="${logoLabel.replace('{name}', brand.name)}" height="48">` : '';
  return html`<p class="brand">${logo}${logo ? '' : brand.name}</p>`;
}

function brandFooter(brand: Brand | null, privacyLabel: string): Html | '' {
  if (!brand || (!brand.postalAddress && !brand.privacyUrl)) return '';
  const address = brand.postalAddress ? html`<p>${brand.name} · ${brand.postalAddress}</p>` : '';
  const { privacyUrl } = drawableBrand(brand);
  const privacy = privacyUrl ? html`<p><a href="${privacyUrl}">${privacyLabel}</a></p>` : '';
  return html`<footer>${address}${privacy}</footer>`;
}

/** The whole document of a public page around its body: language and direction, the brand's header, colour and footer. */
export function renderPage(p: PageSpec): string {
  const title = p.brand ? `${p.title} – ${p.brand.name}` : p.title;
  const labels = p.labels ?? { privacy: 'Privacy policy', logo: '{name}' };
  const brand = brandHeader(p.brand, labels.logo);
  const footer = brandFooter(p.brand, labels.privacy);
  return html`<!doctype html>
<html lang="${p.lang ?? 'en'}" dir="${p.dir ?? 'ltr'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${title}</title>
<style>${new Html(STYLE)}</style>
${accentStyle(p.brand)}
</head>
<body>
<main>
${brand}<h1>${p.title}</h1>
${p.body}
</main>
${footer}
</body>
</html>
`.value;
}
