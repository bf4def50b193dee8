/** The figure files a search writes into its folder (what `--force` clears before a new search there). */

/** Base name of the plot of validation accuracy against one parameter. */
export const paramFigureName = (path: string) => `param-${path.replace(/[^A-Za-z0-9_.-]/g, '_')}`;

export const OVERVIEW_FIGURE = 'overview';
export const RUNGS_FIGURE = 'rungs';
export const CURVES_FIGURE = 'curves';

/** Whether a file name is one of a search's figures (lambda.* : the lambda plot of earlier versions). */
export const isSearchFigureFile = (name: string) => /^(param-[A-Za-z0-9_.-]+|overview|rungs|curves|lambda)\.(svg|png)$/.test(name);
