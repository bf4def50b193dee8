import type { DashboardEvent } from '../api-types.js';

/** A page of the dashboard: its element, what it does with a live event, and what to do once in the document. */
export interface View {
  el: HTMLElement;
  onEvent(e: DashboardEvent): void;
  mounted?(): void;
}
