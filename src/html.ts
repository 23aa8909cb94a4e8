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

export interface Brand { name: string; postalAddress: string | null }

export interface PageSpec { title: string; brand: Brand | null; body: Html }

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
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}`;

/** The whole document of a public page around its body. */
export function renderPage(p: PageSpec): string {
  const title = p.brand ? `${p.title} – ${p.brand.name}` : p.title;
  const brand = p.brand ? html`<p class="brand">${p.brand.name}</p>` : '';
  const footer = p.brand?.postalAddress ? html`<footer><p>${p.brand.name} · ${p.brand.postalAddress}</p></footer>` : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${title}</title>
<style>${new Html(STYLE)}</style>
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
