// The kinds of message (PURE): the one list the gate, composition, the ledger and the API share.
// Every kind but 'marketing' and 'test' is necessary mail (sent whatever the subscription state).
// 'verification' is the mail that asks a tenant's would-be test address to confirm (no contact).

export const MESSAGE_KINDS = ['activation', 'invoice', 'account', 'technical', 'legal', 'support', 'marketing', 'test', 'verification'] as const;

export type MessageKind = (typeof MESSAGE_KINDS)[number];
