// The kinds of message (PURE): the one list the gate, composition, the ledger and the API share.
// Every kind but 'marketing' and 'test' is necessary mail (sent whatever the subscription state).

export const MESSAGE_KINDS = ['activation', 'invoice', 'account', 'technical', 'legal', 'support', 'marketing', 'test'] as const;

export type MessageKind = (typeof MESSAGE_KINDS)[number];
