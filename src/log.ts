// The little the sources and actions need from a logger: messages that are
// complete sentences. A pino logger fits it as it is.

export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}
