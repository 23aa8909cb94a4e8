// The sending-domain and DKIM bodies of src/tenants/domains-api.ts.
export type RecordPurpose = 'verification' | 'dkim' | 'spf' | 'dmarc' | 'bounce_mx';
export interface DnsRecord {
  purpose: RecordPurpose; type: 'TXT' | 'MX'; name: string; value: string; strings?: string[]; zone: string; required: boolean;
  selector?: string; keyState?: string;
}
export interface RecordCheck { purpose: RecordPurpose; name: string; status: 'ok' | 'missing' | 'mismatch' | 'error'; expected: string; found: string[]; error?: string }
export interface DomainSummary {
  domain: string; state: 'pending' | 'verified'; verifiedBy: 'dns' | 'operator' | null; verifiedAt: string | null; createdAt: string; checkedAt: string | null;
}
export interface DomainDetail extends DomainSummary { records: DnsRecord[]; lastCheck: RecordCheck[] | null }
export interface VerifyResult extends DomainSummary { checks: RecordCheck[]; activatedKeys: string[] }
