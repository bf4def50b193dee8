/** `cifar-mlp evaluate` and `cifar-mlp predict`. PLACEHOLDER: being written (issue 6). */
import type { Command } from 'commander';

export function registerModelCommands(_program: Command, _setExitCode: (code: number) => void): void {}
