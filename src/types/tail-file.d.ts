// The part of tail-file 1.4.16 (which ships no types) that knocklog uses.
// Its internals are public by design: options may replace any property or
// method (see its README), which src/sources/file.ts relies on.
declare module 'tail-file' {
  import { EventEmitter } from 'node:events';
  import type { FSWatcher } from 'node:fs';

  type RestartReason = 'PRIMEFOUND' | 'NEWPRIME' | 'TRUNCATE' | 'CATCHUP';

  interface TailOptions {
    /** Tailed when the primary file is missing; default: the first existing `PATH.N[.gz]`. */
    secondary?: string;
    /** 'end', 'start' or a character position (a byte position with `encoding: 'latin1'`). */
    startPos?: 'end' | 'start' | number;
    /** Keep waiting for the file when it is missing instead of giving up. */
    force?: boolean;
    encoding?: BufferEncoding;
    sep?: string | RegExp;
    /** Bytes per read (default 4096). */
    _bufsize?: number;
    /** Method overrides; `this` is the Tail. */
    setCharPos?: (this: Tail, pos: number) => void;
    startTail?: (this: Tail, filename: string) => void;
    /** Gets each read's bytes (in a buffer reused for the next read), null at the end of the file. */
    decode?: (this: Tail, chunk: Buffer | null) => void;
  }

  class Tail extends EventEmitter {
    constructor(filename: string, options?: TailOptions);
    /** Starts tailing `filename` (default: the primary file). */
    start(filename?: string): void;
    stop(): Promise<boolean>;
    /** Inode of the file being read. */
    ino: number | null;
    watcher?: FSWatcher;
    /** Set while a start is in progress; stop() waits for it to settle. */
    starting: string | null;
    setBytePos(pos: number | 'start'): void;
    startTail(filename: string): void;
    onError(err: unknown): void;
    /** Reads on from the position reached (does nothing while a read is in flight). */
    readStuff(): void;
    /** At the end of the file: checks for rotation and truncation, then waits for the file to change. */
    onEndOfFile(): void;

    on(event: 'line', listener: (line: string) => void): this;
    on(event: 'restart', listener: (reason: RestartReason) => void): this;
    on(event: 'secondary', listener: (filename: string) => void): this;
    on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
  export = Tail;
}
