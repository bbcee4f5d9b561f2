// Scanned sections -> typed Options and Doors, with every problem collected.

import { trustProblem } from '../state/trust.js';
import type { Config, Door, DoorBase, Options, SequenceStep, TcpFlagRule } from '../types.js';
import { type DirectiveAt, type Handler, pathValue, refuse, stored } from './directive.js';
import { type Checked, invalid, type Problems, valid } from './errors.js';
import type { ConfigIO } from './io.js';
import { type DoorKey, type KeyDef, type KeyName, lookupKey, type OptionKey, unknownKeyHint } from './keys.js';
import { loadOneTimeSequences } from './onetime.js';
import type { Directive, Section } from './scan.js';
import { parseSequence } from './sequence.js';
import {
  emptyTimedDraft, finishTimed, isTimedKey, settleTimedDoors, timedDirective, type TimedDraft,
} from './timed.js';
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

/**
 * What one section's directives said, keyed by canonical name; repeated keys are errors except TCPFlags and
 * UseSyslog.
 */
class Seen {
  private readonly lines = new Map<KeyName, number>();

  /** False (and a problem) when a single-valued key was already given. */
  first(name: KeyName, at: DirectiveAt): boolean {
    const before = this.lines.get(name);
    if (before !== undefined) {
      return refuse(at, `${name} is set again (first at line ${before})`, 'keep only one of them');
    }
    this.lines.set(name, at.line);
    return true;
  }
}

/**
 * The key of a `key = value` line when it may stand in this section (its
 * scope, given once unless repeatable), else null once what is wrong is reported.
 */
function knownKey(key: string, scope: 'options' | 'door', section: string, seen: Seen, at: DirectiveAt): KeyDef | null {
  const def = lookupKey(key);
  if (def === undefined) {
    refuse(at, `unknown key "${key}" in ${section}`, unknownKeyHint(key, scope));
    return null;
  }
  if (def.scope === 'any') {
    refuse(at, 'UseSyslog takes no value', 'write just UseSyslog to log to syslog, or remove the line');
    return null;
  }
  if (def.scope !== scope) {
    const [home, hint] = scope === 'options'
      ? ['a door section', 'move it under a [door] header'] : ['[options]', 'move it to the [options] section'];
    refuse(at, `${def.name} belongs in ${home}, not in ${section}`, hint);
    return null;
  }
  return def.repeatable || seen.first(def.name, at) ? def : null;
}

function nonEmpty(name: string, example: string): (value: string) => Checked<string> {
  const hint = `give a value such as ${example}, or remove the line`;
  return (value) => (value === '' ? invalid(`${name} is empty`, hint) : valid(value));
}

/** A bare word (no `=`): only UseSyslog may stand alone. */
function bareWord(d: Directive, path: string, options: Options, problems: Problems): void {
  if (lookupKey(d.key)?.name === 'UseSyslog') {
    options.useSyslog = true;
    return;
  }
  problems.add(path, d.line, `"${d.key}" has no "="`, 'write key = value; only UseSyslog stands alone');
}

const OPTION_KEYS: Readonly<Record<OptionKey, Handler<Options>>> = {
  LogFile: (o, value, at) => {
    // knockd treats an empty LogFile as none.
    o.logFile = value === '' ? null : pathValue(value, at);
    return true;
  },
  PidFile: stored(nonEmpty('PidFile', '/var/run/knockd.pid'), (o, v, at) => { o.pidFile = pathValue(v, at); }),
  // Empty or quoted is an error, not "any interface": knockd refuses to start on those.
  Interface: stored(parseInterface, (o, v) => { o.interface = v; }),
  Sources: stored(parseSources, (o, v, at) => {
    o.sources = v.map((s) => {
      const kind = FILE_SOURCES.find((k) => s.startsWith(k));
      return kind === undefined ? s : `${kind}${pathValue(s.slice(kind.length), at)}`;
    });
  }),
  Prefix: stored(parsePrefix, (o, v) => { o.prefix = v; }),
  StateDir: stored(nonEmpty('StateDir', '/var/lib/knocklog'), (o, v, at) => {
    o.stateDir = pathValue(v, at);
    // The executor runs commands from what is saved there: only root (or knocklog's uid) may write it.
    const problem = trustProblem(o.stateDir, 'directory', true);
    if (problem !== null) {
      refuse(at, `StateDir: ${problem}`, 'use a directory only root can write, such as /var/lib/knocklog');
    }
  }),
  MaxSources: stored((v) => parsePositiveInteger(v, 'MaxSources'), (o, v) => { o.maxSources = v; }),
  User: stored(parseUser, (o, v) => { o.user = v; }),
};

function optionDirective(d: Directive, value: string, options: Options, seen: Seen, at: DirectiveAt): void {
  const def = knownKey(d.key, 'options', '[options]', seen, at);
  if (def?.scope === 'options') OPTION_KEYS[def.name](options, value, at);
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

/**
 * A command key. An empty IPv4 command runs nothing, so it is stored as null;
 * an empty IPv6 command is kept as '' because it overrides the IPv4 fallback.
 */
function commandKey(key: DoorKey, set: (door: DoorDraft, command: string) => void): Handler<DoorDraft> {
  return stored((v) => parseCommand(v, key), set);
}

const DOOR_KEYS: Readonly<Record<DoorKey, Handler<DoorDraft>>> = {
  Sequence: stored(parseSequence, (door, v, at) => { door.sequence = { value: v, line: at.line }; }),
  One_Time_Sequences: stored(nonEmpty('One_Time_Sequences', '/etc/knockd/smtp_sequences'), (door, v, at) => {
    door.oneTime = { path: pathValue(v, at), line: at.line };
  }),
  Seq_Timeout: stored((v) => parseSeconds(v, 'Seq_Timeout', SEQ_TIMEOUT_RANGE), (d, ms) => { d.seqTimeoutMs = ms; }),
  Cmd_Timeout: stored((v) => parseSeconds(v, 'Cmd_Timeout', CMD_TIMEOUT_RANGE), (d, ms) => { d.cmdTimeoutMs = ms; }),
  TCPFlags: stored(parseTcpFlags, (door, v, at) => at.report(mergeTcpFlags(door.tcpFlags, v))),
  Start_Command: commandKey('Start_Command', (door, v) => { door.startCommand = v === '' ? null : v; }),
  Start_Command_6: commandKey('Start_Command_6', (door, v) => { door.startCommand6 = v; }),
  Stop_Command: commandKey('Stop_Command', (door, v) => { door.stopCommand = v === '' ? null : v; }),
  Stop_Command_6: commandKey('Stop_Command_6', (door, v) => { door.stopCommand6 = v; }),
  Target: stored(parseTarget, (door, v) => { door.target = v; }),
};

/** The keys that say what the sequence is: given but invalid, the door is not reported as having none. */
const isSequenceKey = (name: KeyName): boolean => name === 'Sequence' || name === 'One_Time_Sequences';

function doorDirective(d: Directive, value: string, door: DoorDraft, seen: Seen, at: DirectiveAt): void {
  const def = knownKey(d.key, 'door', `door [${door.name}]`, seen, at);
  if (def?.scope !== 'door') return;
  if (isTimedKey(def.name)) timedDirective(def.name, value, door.timed, at);
  else if (!DOOR_KEYS[def.name](door, value, at) && isSequenceKey(def.name)) door.sequenceBroken = true;
}

function finishDoor(draft: DoorDraft, path: string, build: BuildOptions, problems: Problems): Door | null {
  if (draft.timed.line !== null) return finishTimedDoor(draft, path, problems);
  if (draft.sequence !== null && draft.oneTime !== null) {
    problems.add(
      path,
      draft.oneTime.line,
      `door [${draft.name}] has both Sequence (line ${draft.sequence.line}) and One_Time_Sequences`,
      'keep one of them',
    );
    return null;
  }
  if (draft.oneTime !== null) {
    const oneTime = loadOneTimeSequences(
      draft.oneTime.path,
      path,
      draft.oneTime.line,
      build.io,
      build.requireWritable,
      problems,
    );
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
    problems.add(
      path,
      other.line,
      `door [${draft.name}] has both ${key} and time-based Sequence_* settings (line ${draft.timed.line})`,
      'keep one of them: a time-based door derives its sequence from Sequence_Secret_File',
    );
    return null;
  }
  if (draft.sequenceBroken) return null;
  const timed = finishTimed(draft.timed, draft.name, path, problems);
  return timed === null ? null : { kind: 'timed', ...doorBase(draft, path), timed };
}

function directiveAt(d: Directive, path: string, io: ConfigIO, problems: Problems): DirectiveAt {
  return { path, line: d.line, io, report: (errors) => problems.addAll(path, d.line, errors) };
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
        else optionDirective(d, d.value, options, optionsSeen, directiveAt(d, path, build.io, problems));
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
      else doorDirective(d, d.value, draft, seen, directiveAt(d, path, build.io, problems));
    }
    if (before !== undefined) continue;
    const door = finishDoor(draft, path, build, problems);
    if (door !== null) built.push(door);
  }
  return { path, options, doors: settleTimedDoors(built, path, problems) };
}
