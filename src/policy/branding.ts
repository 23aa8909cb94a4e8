// Branding checks (PURE): a tenant's accent colour must stay readable as white text on it (buttons)
// and as text on white (links). Contrast ratio per WCAG 2.2 (1.4.3, relative luminance of sRGB).

/** WCAG 2.2's minimum contrast for normal text (success criterion 1.4.3, level AA). */
export const MIN_CONTRAST = 4.5;

/** Relative luminance of a '#rrggbb' colour, 0 (black) … 1 (white), per WCAG 2.2. Throws on another form. */
export function relativeLuminance(hex: string): number {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`not a #rrggbb colour: ${hex}`);
  const lin = (h: string) => {
    const c = parseInt(h, 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(m[1]) + 0.7152 * lin(m[2]) + 0.0722 * lin(m[3]);
}

/** The contrast ratio (1 … 21) of a '#rrggbb' colour against white. */
export function contrastWithWhite(hex: string): number {
  return 1.05 / (relativeLuminance(hex) + 0.05);
}
