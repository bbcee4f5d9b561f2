// The little the actions layer needs from a logger; a pino logger fits it.
// Messages are complete sentences on their own: nothing is passed as `extra`
// that a reader of the log would need.

export interface Logger {
  info(msg: string, extra?: object): void;
  warn(msg: string, extra?: object): void;
  error(msg: string, extra?: object): void;
}
