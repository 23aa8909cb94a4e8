// GET /api/dashboard's body, as src/dashboard/dashboard-api.ts documents it.
export interface DayFigures {
  date: string; sent: number; delivered: number; pending: number; bounced: number; hard: number; soft: number; blocked: number;
  complaints: number; unsubscribes: number;
}
type Rate = number | null;
export interface CampaignSummary {
  id: string; name: string; status: string; pausedReason: string | null;
  startedAt: string | null; completedAt: string | null; cancelledAt: string | null;
  audience: number; sent: number; delivered: number; pending: number; bounced: number; hardBounced: number;
  complaints: number; unsubscribes: number; uniqueOpens: number; uniqueClicks: number;
  rates: { delivered: Rate; bounced: Rate; complaints: Rate; unsubscribes: Rate; uniqueOpens: Rate; uniqueClicks: Rate };
}
export interface DashboardWarning {
  code: 'sender_domain_unverified' | 'unverified_domains' | 'insecure_public_url' | 'complaint_rate';
  severity: 'warning' | 'critical'; message: string; domains?: string[];
  complaints?: number; sent?: number; rate?: number; warnAt?: number; limit?: number;
}
export interface Dashboard {
  timeZone: string; days: number; source: 'campaigns';
  series: DayFigures[]; totals: Omit<DayFigures, 'date'>;
  queue: { queued: number; deferred: number; sending: number; oldestQueuedSeconds: number | null };
  complaintRate: { windowDays: number; sent: number; complaints: number; rate: Rate; warnAt: number; limit: number };
  warnings: DashboardWarning[];
  campaigns: { running: CampaignSummary[]; recent: CampaignSummary[] };
}
