// The API shapes the staff page reads (GET /api/staff-users, /api/audit).
import type { Role } from '../../session';

export interface StaffUser {
  id: string; email: string; role: Role; createdAt: string; hasPassword: boolean; disabledAt: string | null; lockedUntil: string | null;
}
export interface AuditEntry {
  id: string; at: string; userId: string | null; userEmail: string; action: string; method: string | null; path: string | null; status: number | null;
}

export const ROLE_OPTIONS: { value: Role; label: string }[] = [
  { value: 'admin', label: 'admin: everything' },
  { value: 'marketing', label: 'marketing: contacts, campaigns, events' },
  { value: 'viewer', label: 'viewer: reads only' },
];
