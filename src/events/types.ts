// The event types of the tenant's feed (GET /api/events, webhooks, campaign figures). PURE.
// Rows come from migration 074's triggers (message_events, consent_events, campaigns, imports) and
// from src/events/feed.ts appendEvent (engagement, webhook endpoints).

/** Every type the feed can hold, in the order the documentation lists them. */
export const EVENT_TYPES = [
  'message.queued', 'message.sent', 'message.deferred', 'message.failed', 'message.suppressed',
  'message.bounced', 'message.complained', 'message.feedback', 'message.cancelled', 'message.delivery_report',
  'message.clicked', 'message.opened',
  'contact.confirmed', 'contact.unsubscribed', 'contact.resubscribed', 'contact.suppressed', 'contact.unsuppressed', 'contact.erased',
  'campaign.scheduled', 'campaign.started', 'campaign.paused', 'campaign.resumed', 'campaign.completed', 'campaign.cancelled',
  'import.finished',
  'webhook.disabled',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(s: string): s is EventType {
  return (EVENT_TYPES as readonly string[]).includes(s);
}
