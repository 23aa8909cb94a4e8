// Domain errors (PURE): what went wrong, as a machine code, the input field at fault and details,
// with no idea of HTTP. Domain code throws DomainError; only adapters translate it: the HTTP layer
// (src/platform/http.ts) maps each code to a status (and `rate_limited` to Retry-After), the HTML
// pages map codes to their wording, the CLI to one line.

/** Every code domain code may throw. Adding one here makes the HTTP layer's status table demand it. */
export type DomainErrorCode =
  // generic
  | 'not_found' | 'invalid' | 'conflict' | 'forbidden' | 'rate_limited'
  // requests
  | 'card_data_rejected'
  // consent and suppression
  | 'no_default_list' | 'unknown_list' | 'contact_not_eligible' | 'reason_required' | 'erasure_suppression'
  // lists (issue 16)
  | 'list_name_taken' | 'list_archived' | 'default_list' | 'list_in_use'
  // transactional mail
  | 'no_association' | 'idempotency_conflict' | 'total_mismatch' | 'amount_out_of_range'
  // campaigns and templates
  | 'invalid_state' | 'campaign_not_editable' | 'not_compliant' | 'not_test_address' | 'invalid_template' | 'render_failed'
  // test addresses
  | 'test_address_unverified' | 'address_suppressed'
  // sending domains and DKIM keys
  | 'unverified_domain' | 'domain_taken' | 'selector_exists' | 'too_many_pending'
  // API keys
  | 'last_admin_key'
  // segments (issue 16)
  | 'invalid_segment' | 'segment_name_taken' | 'segment_in_use' | 'segment_count_timeout'
  // webhooks (issue 17)
  | 'endpoint_disabled'
  // staff accounts (issue 19)
  | 'invalid_credentials' | 'account_locked' | 'staff_email_taken' | 'last_admin_user';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly field: string | null = null,
    /** Extra machine-readable facts (e.g. retryAfterSeconds, reasons, messageId); the API adds them to its error body. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const isDomainError = (err: unknown): err is DomainError => err instanceof DomainError;

/** `rate_limited`: the caller may try again after this many seconds. */
export function rateLimited(message: string, field: string | null, retryAfterSeconds: number): DomainError {
  return new DomainError('rate_limited', message, field, { retryAfterSeconds });
}

export const notFoundError = (what: string, field: string | null = null): DomainError => new DomainError('not_found', `${what} not found`, field);
