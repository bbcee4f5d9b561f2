// knockd.conf -> typed, validated Config. The README, "The configuration file", has
// the grammar and what differs from knockd.

import type { Config, OptionOverrides, Options } from '../types.js';
import { buildConfig } from './build.js';
import { ConfigError, Problems } from './errors.js';
import { type ConfigIO, describeFsError, nodeIO } from './io.js';
import { applyOverrides } from './overrides.js';
import { scanConfig } from './scan.js';

export { ConfigError } from './errors.js';
export type { ConfigIO } from './io.js';
export { DEFAULT_CMD_TIMEOUT_MS, DEFAULT_OPTIONS, DEFAULT_SEQ_TIMEOUT_MS } from './build.js';
export { formatSequence, parseSequence, MAX_SEQUENCE_LENGTH } from './sequence.js';
export { formatTcpFlags } from './values.js';
export { describeTimed } from './timed.js';
export { readOneTimeSequences } from './onetime.js';
export { isUserName, timedFromSettings, type TimedSettings } from './timed.js';
export { undoProblems } from './undo.js';

export const DEFAULT_CONFIG_PATH = '/etc/knockd.conf';

export interface LoadOptions {
  /** File access for one_time_sequences files; the real file system by default. */
  io?: ConfigIO;
  /**
   * Require one_time_sequences files and their directories to be writable
   * (default true: the daemon rewrites them). `replay` only reads them.
   */
  requireWritable?: boolean;
}

/**
 * Parses a knockd.conf text. Pure apart from one_time_sequences files, which
 * are read through `opts.io`. Throws ConfigError with every problem found.
 */
export function parseConfig(text: string, path: string, opts: LoadOptions = {}): Config {
  const problems = new Problems();
  const sections = scanConfig(text, path, problems);
  const build = { io: opts.io ?? nodeIO, requireWritable: opts.requireWritable ?? true };
  const config = buildConfig(sections, path, build, problems);
  if (!problems.empty) throw new ConfigError(problems.list);
  return config;
}

/** Reads and parses the config at `path`; `overrides` (the command line) win over [options]. */
export function loadConfig(path: string, overrides: OptionOverrides = {}, opts: LoadOptions = {}): Config {
  let text: string;
  try {
    text = (opts.io ?? nodeIO).readFile(path);
  } catch (e) {
    throw new ConfigError([
      `${path}: cannot read the config file: ${describeFsError(e)} (give the right path with -c FILE)`,
    ]);
  }
  const problems = new Problems();
  let config: Config | null = null;
  try {
    config = parseConfig(text, path, opts);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.list.push(...e.errors);
  }
  const options = applyOverrides(config?.options ?? ({} as Options), overrides, problems);
  if (!problems.empty || config === null) throw new ConfigError(problems.list);
  return { ...config, options };
}
