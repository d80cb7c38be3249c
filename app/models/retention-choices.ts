/** How long a shop may keep its delivery logs, in days (Settings; pruned by the retention job). */
export const RETENTION_CHOICES = [7, 30, 90, 365] as const;
