// Link scanners (PURE): is a hit on a click or open link a machine rather than the recipient?
// Security gateways (Microsoft Defender Safe Links, Proofpoint, Mimecast, Barracuda, …) follow every
// link of a message as it arrives, and some clients prefetch. A hit counts as a scanner when it is
//   'head'       a HEAD request (a browser following a link sends GET);
//   'user_agent' a user agent on the short list below (substring match, case-insensitive);
//   'too_soon'   within `scannerSeconds` of the message's sending (or before it was recorded as sent).
// Scanner hits are recorded apart (scanner: true, scannerReason) and never count as unique.

export type ScannerReason = 'head' | 'too_soon' | 'user_agent';

/**
 * Substrings of user agents of known link scanners and prefetchers. Kept short and specific: a
 * plain browser user agent never contains one of these. Generic HTTP clients (curl, python-requests,
 * Go-http-client, …) are here too: a person clicking a link in a mail client is never one of them.
 */
export const SCANNER_AGENTS: readonly string[] = [
  'barracuda', 'proofpoint', 'ppops', 'mimecast', 'bingpreview', 'google-safety', 'googleimageproxy-scan',
  'safelinks', 'microsoft office', 'ms-office', 'microsoftpreview', 'symantec', 'messagelabs', 'forcepoint',
  'trendmicro', 'fortiguard', 'sophos', 'cisco', 'ironport', 'zscaler', 'checkpoint', 'paloalto',
  'curl/', 'wget/', 'python-requests', 'python-urllib', 'go-http-client', 'okhttp', 'java/', 'libwww-perl',
  'node-fetch', 'axios/', 'undici', 'headlesschrome', 'phantomjs', 'bot/', 'bot;', 'spider', 'crawler', 'slurp', 'preview',
  // Link-preview fetchers of chat apps and social sites (a recipient pasting or forwarding the link):
  // iMessage previews as "facebookexternalhit/1.1 Facebot Twitterbot/1.0". Their in-app browsers
  // (FBAN/FBIOS, Instagram, Line, …) are people and carry none of these.
  'slackbot', 'facebookexternalhit', 'facebot', 'telegrambot', 'twitterbot', 'discordbot', 'whatsapp/', 'linkedinbot',
  'skypeuripreview', 'applebot', 'redditbot', 'pinterestbot', 'embedly', 'vkshare', 'mastodon/',
];

export interface Hit {
  method: string;
  userAgent: string | undefined;
  /** When the hit arrived (ms since the epoch). */
  now: number;
  /** When the message was recorded as sent (ms since the epoch); null: not (yet) recorded as sent. */
  sentAt: number | null;
}

/** Whether the user agent is a known scanner's. An absent or empty user agent is one too (browsers always send one). */
export function isScannerAgent(userAgent: string | undefined): boolean {
  if (!userAgent || !userAgent.trim()) return true;
  const ua = userAgent.slice(0, 512).toLowerCase();
  return SCANNER_AGENTS.some((s) => ua.includes(s));
}

/** Why a hit is a scanner's, or null when it looks like the recipient. Checked in this order: head, user_agent, too_soon. */
export function scannerReason(h: Hit, scannerSeconds: number): ScannerReason | null {
  if (h.method.toUpperCase() === 'HEAD') return 'head';
  if (isScannerAgent(h.userAgent)) return 'user_agent';
  if (h.sentAt === null || h.now - h.sentAt < scannerSeconds * 1000) return 'too_soon';
  return null;
}
