import type { DashboardEvent } from '../api-types.js';

/** A page of the dashboard: its element, what it does with a live event, what to do once in the document, when it has drawn. */
export interface View {
  el: HTMLElement;
  onEvent(e: DashboardEvent): void;
  mounted?(): void;
  /** Resolves once the view has drawn its data the first time. */
  ready?: Promise<unknown>;
}
