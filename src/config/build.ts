// Scanned sections -> typed Options and Doors, with every problem collected.

import { dirname, resolve } from 'node:path';
import { trustProblem } from '../state/trust.js';
import type { Config, Door, DoorBase, Options, SequenceStep, TcpFlagRule } from '../types.js';
import { type Checked, invalid, type Problems, valid } from './errors.js';
import type { ConfigIO } from './io.js';
import { isTimedKey, type KeyName, lookupKey, unknownKeyHint } from './keys.js';
import { loadOneTimeSequences } from './onetime.js';
import type { Directive, Section } from './scan.js';
import { parseSequence } from './sequence.js';
import { emptyTimedDraft, finishTimed, settleTimedDoors, timedDirective, type TimedDraft } from './timed.js';
import {
  CMD_TIMEOUT_RANGE, FILE_SOURCES, mergeTcpFlags, parseCommand, parseInterface, parsePositiveInteger, parsePrefix,
  parseSeconds, parseSources, parseTarget, parseTcpFlags, parseUser, SEQ_TIMEOUT_RANGE,
} from './values.js';

export const DEFAULT_OPTIONS: Readonly<Options> = Object.freeze({
  useSyslog: false,
  logFile: null,
  // knockd's /var/run/knockd.pid would clash with a knockd running beside it.
  pidFile: '/run/knocklog/knocklog.pid',
  interface: null,
  sources: [],
  prefix: 'KNOCK',
  stateDir: '/var/lib/knocklog',
  maxSources: 100000,
  user: 'knocklog',
});

export const DEFAULT_SEQ_TIMEOUT_MS = 25_000;
export const DEFAULT_CMD_TIMEOUT_MS = 10_000;

export interface BuildOptions {
  io: ConfigIO;
  /** Check that one_time_sequences files and their directories are writable (not for read-only uses like replay). */
  requireWritable: boolean;
}

/** What one section's directives said, keyed by canonical name; repeated keys are errors except TCPFlags and UseSyslog. */
class Seen {
  private readonly lines = new Map<KeyName, number>();

  /** False (and a problem) when a single-valued key was already given. */
  first(name: KeyName, d: Directive, path: string, problems: Problems): boolean {
    const before = this.lines.get(name);
    if (before !== undefined) {
      problems.add(path, d.line, `${name} is set again (first at line ${before})`, 'keep only one of them');
      return false;
    }
    this.lines.set(name, d.line);
    return true;
  }
}

/**
 * Relative paths in the config are relative to the config file's directory:
 * knockd resolved them against its working directory, which for a daemon is
 * `/` and for `check` is wherever it is run, so they would mean two things.
 */
function pathValue(value: string, confPath: string): string {
  return resolve(dirname(confPath), value);
}

function take<T>(c: Checked<T>, path: string, line: number, problems: Problems): T | undefined {
  if (c.ok) return c.value;
  problems.addAll(path, line, c.errors);
  return undefined;
}

function nonEmpty(value: string, name: string, example: string): Checked<string> {
  return value === '' ? invalid(`${name} is empty`, `give a value such as ${example}, or remove the line`) : valid(value);
}

/** A bare word (no `=`): only UseSyslog may stand alone. */
function bareWord(d: Directive, path: string, options: Options, problems: Problems): void {
  if (lookupKey(d.key)?.name === 'UseSyslog') {
    options.useSyslog = true;
    return;
  }
  problems.add(path, d.line, `"${d.key}" has no "="`, 'write key = value; only UseSyslog stands alone');
}

function optionDirective(d: Directive, value: string, path: string, options: Options, seen: Seen, problems: Problems): void {
  const def = lookupKey(d.key);
  if (def === undefined) {
    problems.add(path, d.line, `unknown key "${d.key}" in [options]`, unknownKeyHint(d.key, 'options'));
    return;
  }
  if (def.scope === 'door') {
    problems.add(path, d.line, `${def.name} belongs in a door section, not in [options]`, 'move it under a [door] header');
    return;
  }
  if (def.name === 'UseSyslog') {
    problems.add(path, d.line, 'UseSyslog takes no value', 'write just UseSyslog to log to syslog, or remove the line');
    return;
  }
  if (!def.repeatable && !seen.first(def.name, d, path, problems)) return;
  const at = <T>(c: Checked<T>): T | undefined => take(c, path, d.line, problems);
  switch (def.name) {
    case 'LogFile':
      // knockd treats an empty LogFile as none.
      options.logFile = value === '' ? null : pathValue(value, path);
      break;
    case 'PidFile': {
      const v = at(nonEmpty(value, 'PidFile', '/var/run/knockd.pid'));
      if (v !== undefined) options.pidFile = pathValue(v, path);
      break;
    }
    case 'Interface': {
      // Empty or quoted is an error, not "any interface": knockd refuses to start on those.
      const v = at(parseInterface(value));
      if (v !== undefined) options.interface = v;
      break;
    }
    case 'Sources': {
      const v = at(parseSources(value));
      if (v !== undefined) {
        options.sources = v.map((s) => {
          const kind = FILE_SOURCES.find((k) => s.startsWith(k));
          return kind === undefined ? s : `${kind}${pathValue(s.slice(kind.length), path)}`;
        });
      }
      break;
    }
    case 'Prefix': {
      const v = at(parsePrefix(value));
      if (v !== undefined) options.prefix = v;
      break;
    }
    case 'StateDir': {
      const v = at(nonEmpty(value, 'StateDir', '/var/lib/knocklog'));
      if (v !== undefined) options.stateDir = pathValue(v, path);
      // The executor runs commands from what is saved there: only root (or knocklog's uid) may write it.
      const problem = v === undefined ? null : trustProblem(options.stateDir, 'directory', true);
      if (problem !== null) {
        problems.add(path, d.line, `StateDir: ${problem}`, 'use a directory only root can write, such as /var/lib/knocklog');
      }
      break;
    }
    case 'MaxSources': {
      const v = at(parsePositiveInteger(value, 'MaxSources'));
      if (v !== undefined) options.maxSources = v;
      break;
    }
    case 'User': {
      const v = at(parseUser(value));
      if (v !== undefined) options.user = v;
      break;
    }
    default:
      throw new Error(`unhandled option key ${def.name}`);
  }
}

interface DoorDraft {
  name: string;
  line: number;
  sequence: { value: SequenceStep[]; line: number } | null;
  oneTime: { path: string; line: number } | null;
  seqTimeoutMs: number;
  tcpFlags: TcpFlagRule[];
  startCommand: string | null;
  startCommand6: string | undefined;
  stopCommand: string | null;
  stopCommand6: string | undefined;
  cmdTimeoutMs: number;
  target: string | null;
  timed: TimedDraft;
  /** Set when Sequence/One_Time_Sequences was given but invalid, so "has neither" is not reported too. */
  sequenceBroken: boolean;
}

function doorDirective(
  d: Directive, value: string, path: string, door: DoorDraft, seen: Seen, build: BuildOptions, problems: Problems,
): void {
  const def = lookupKey(d.key);
  if (def === undefined) {
    problems.add(path, d.line, `unknown key "${d.key}" in door [${door.name}]`, unknownKeyHint(d.key, 'door'));
    return;
  }
  if (def.scope === 'options') {
    problems.add(path, d.line, `${def.name} belongs in [options], not in door [${door.name}]`, 'move it to the [options] section');
    return;
  }
  if (def.name === 'UseSyslog') {
    problems.add(path, d.line, 'UseSyslog takes no value', 'write just UseSyslog to log to syslog, or remove the line');
    return;
  }
  if (!def.repeatable && !seen.first(def.name, d, path, problems)) {
    if (def.name === 'Sequence' || def.name === 'One_Time_Sequences') door.sequenceBroken = true;
    return;
  }
  if (isTimedKey(def.name)) {
    timedDirective(def.name, value, d.line, door.timed, { path, io: build.io, resolve: (v) => pathValue(v, path) }, problems);
    return;
  }
  const at = <T>(c: Checked<T>): T | undefined => take(c, path, d.line, problems);
  switch (def.name) {
    case 'Sequence': {
      const v = at(parseSequence(value));
      if (v === undefined) door.sequenceBroken = true;
      else door.sequence = { value: v, line: d.line };
      break;
    }
    case 'One_Time_Sequences': {
      const v = at(nonEmpty(value, 'One_Time_Sequences', '/etc/knockd/smtp_sequences'));
      if (v === undefined) door.sequenceBroken = true;
      else door.oneTime = { path: pathValue(v, path), line: d.line };
      break;
    }
    case 'Seq_Timeout': {
      const v = at(parseSeconds(value, 'Seq_Timeout', SEQ_TIMEOUT_RANGE));
      if (v !== undefined) door.seqTimeoutMs = v;
      break;
    }
    case 'Cmd_Timeout': {
      const v = at(parseSeconds(value, 'Cmd_Timeout', CMD_TIMEOUT_RANGE));
      if (v !== undefined) door.cmdTimeoutMs = v;
      break;
    }
    case 'TCPFlags': {
      const v = at(parseTcpFlags(value));
      if (v !== undefined) problems.addAll(path, d.line, mergeTcpFlags(door.tcpFlags, v));
      break;
    }
    case 'Start_Command':
    case 'Start_Command_6':
    case 'Stop_Command':
    case 'Stop_Command_6': {
      const v = at(parseCommand(value, def.name));
      if (v !== undefined) setCommand(door, def.name, v);
      break;
    }
    case 'Target': {
      const v = at(parseTarget(value));
      if (v !== undefined) door.target = v;
      break;
    }
    default:
      throw new Error(`unhandled door key ${def.name}`);
  }
}

type CommandKey = 'Start_Command' | 'Start_Command_6' | 'Stop_Command' | 'Stop_Command_6';

/**
 * An empty IPv4 command runs nothing, so it is stored as null; an empty IPv6
 * command is kept as '' because it overrides the IPv4 fallback.
 */
function setCommand(door: DoorDraft, key: CommandKey, value: string): void {
  if (key === 'Start_Command') door.startCommand = value === '' ? null : value;
  else if (key === 'Start_Command_6') door.startCommand6 = value;
  else if (key === 'Stop_Command') door.stopCommand = value === '' ? null : value;
  else door.stopCommand6 = value;
}

function finishDoor(draft: DoorDraft, path: string, build: BuildOptions, problems: Problems): Door | null {
  if (draft.timed.line !== null) return finishTimedDoor(draft, path, problems);
  if (draft.sequence !== null && draft.oneTime !== null) {
    problems.add(path, draft.oneTime.line, `door [${draft.name}] has both Sequence (line ${draft.sequence.line}) and One_Time_Sequences`,
      'keep one of them');
    return null;
  }
  if (draft.oneTime !== null) {
    const oneTime = loadOneTimeSequences(draft.oneTime.path, path, draft.oneTime.line, build.io, build.requireWritable, problems);
    // Exhausted is not an error: the door is disabled (the daemon logs it), as after its last use.
    return oneTime === null ? null : { kind: 'oneTime', ...doorBase(draft, path), oneTime };
  }
  if (draft.sequence === null) {
    if (!draft.sequenceBroken) {
      problems.add(path, draft.line, `door [${draft.name}] has neither Sequence nor One_Time_Sequences`,
        'add a line such as Sequence = 7000,8000,9000');
    }
    return null;
  }
  return { kind: 'fixed', ...doorBase(draft, path), sequence: draft.sequence.value };
}

/** What a door is whatever its kind. */
function doorBase(draft: DoorDraft, path: string): DoorBase {
  return {
    name: draft.name,
    where: `${path}:${draft.line}`,
    seqTimeoutMs: draft.seqTimeoutMs,
    tcpFlags: draft.tcpFlags,
    startCommand: draft.startCommand,
    startCommand6: draft.startCommand6 ?? draft.startCommand,
    stopCommand: draft.stopCommand,
    stopCommand6: draft.stopCommand6 ?? draft.stopCommand,
    cmdTimeoutMs: draft.cmdTimeoutMs,
    target: draft.target,
  };
}

/** A door with Sequence_* keys: they replace Sequence and One_Time_Sequences. */
function finishTimedDoor(draft: DoorDraft, path: string, problems: Problems): Door | null {
  const other = draft.sequence ?? draft.oneTime;
  if (other !== null) {
    const key = draft.sequence !== null ? 'Sequence' : 'One_Time_Sequences';
    problems.add(path, other.line, `door [${draft.name}] has both ${key} and time-based Sequence_* settings (line ${draft.timed.line})`,
      'keep one of them: a time-based door derives its sequence from Sequence_Secret_File');
    return null;
  }
  if (draft.sequenceBroken) return null;
  const timed = finishTimed(draft.timed, draft.name, path, problems);
  return timed === null ? null : { kind: 'timed', ...doorBase(draft, path), timed };
}

/** Builds the Config from scanned sections; problems are added to `problems`. */
export function buildConfig(sections: Section[], path: string, build: BuildOptions, problems: Problems): Config {
  const options: Options = { ...DEFAULT_OPTIONS, sources: [] };
  const optionsSeen = new Seen();
  const built: Door[] = [];
  // Door names are compared case-insensitively: names differing only in case
  // are a mistake, and they would be hard to tell apart in logs and state files.
  const doorLines = new Map<string, { name: string; line: number }>();
  for (const section of sections) {
    if (section.isOptions) {
      for (const d of section.directives) {
        if (d.value === null) bareWord(d, path, options, problems);
        else optionDirective(d, d.value, path, options, optionsSeen, problems);
      }
      continue;
    }
    const draft: DoorDraft = {
      name: section.name, line: section.line, sequence: null, oneTime: null,
      seqTimeoutMs: DEFAULT_SEQ_TIMEOUT_MS, tcpFlags: [], startCommand: null, startCommand6: undefined,
      stopCommand: null, stopCommand6: undefined, cmdTimeoutMs: DEFAULT_CMD_TIMEOUT_MS, target: null,
      timed: emptyTimedDraft(), sequenceBroken: false,
    };
    const before = doorLines.get(section.name.toLowerCase());
    if (before !== undefined) {
      const same = before.name === section.name ? '' : ` [${before.name}]`;
      problems.add(path, section.line, `door [${section.name}] is defined again (first${same} at line ${before.line})`,
        'give each door a unique name; names are compared ignoring case');
    } else {
      doorLines.set(section.name.toLowerCase(), { name: section.name, line: section.line });
    }
    const seen = new Seen();
    // A duplicate's directives are still checked, so one run shows every problem.
    for (const d of section.directives) {
      if (d.value === null) bareWord(d, path, options, problems);
      else doorDirective(d, d.value, path, draft, seen, build, problems);
    }
    if (before !== undefined) continue;
    const door = finishDoor(draft, path, build, problems);
    if (door !== null) built.push(door);
  }
  return { path, options, doors: settleTimedDoors(built, path, problems) };
}
