/** Plots and report page of a finished (or interrupted) run; a plotting failure never loses the run's results. */
export async function renderRunArtifacts(outDir: string, log: (line: string) => void): Promise<void> {
  try {
    const { writeReportPage } = await import('./page.js');
    await writeReportPage(outDir);
  } catch (e) {
    log(`cifar-mlp: warning: could not render plots for ${outDir}: ${(e as Error).message}`);
  }
}
