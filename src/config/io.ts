// The file system as config loading sees it; tests can pass their own.

import { accessSync, readdirSync, readFileSync } from 'node:fs';

export interface ConfigIO {
  /** The file's text; throws the Node error when it cannot be read. */
  readFile(path: string): string;
  /** Throws the Node error when `path` is not accessible with `mode` (fs.constants). */
  access(path: string, mode: number): void;
  /** The names in a directory; throws the Node error when it cannot be read. */
  readDir(path: string): string[];
}

export const nodeIO: ConfigIO = {
  readFile: (path) => readFileSync(path, 'utf8'),
  access: (path, mode) => accessSync(path, mode),
  readDir: (path) => readdirSync(path),
};

/** A short reason for a failed file operation, for messages. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  return (e as Error).message;
}
