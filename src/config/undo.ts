// Whether a door's stop_command deletes the rule its start_command adds, for
// the common shape of both: one iptables/ip6tables command, -I or -A, then -D
// (src/iptables.ts reads them). The executor takes iptables' "does a matching
// rule exist" from such a stop as "the rule is gone already" and stops
// retrying: with a stop that does not match its start that would leave the
// start's rule in place, so `check` and `run` say so at once.

import { ruleCommand } from '../iptables.js';
import type { DoorBase } from '../types.js';

/** What is wrong, if the door's stop commands visibly do not delete what its start commands add. */
export function undoProblems(d: DoorBase): string[] {
  const out: string[] = [];
  const pairs = [[d.startCommand, d.stopCommand, ''], [d.startCommand6, d.stopCommand6, '_6']] as const;
  for (const [start, stop, v6] of pairs) {
    if (start === null || stop === null || start === '' || stop === '') continue;
    // Without commands of its own, IPv6 uses the IPv4 ones: said once.
    if (v6 !== '' && start === d.startCommand && stop === d.stopCommand) continue;
    const a = ruleCommand(start);
    const b = ruleCommand(stop);
    if (a === null || b === null || a.op !== 'add' || b.op !== 'delete') continue;
    // The same family: `iptables` may well be the -nft or -legacy one named in the other command.
    if (a.family === b.family && a.chain === b.chain && a.rule === b.rule) continue;
    out.push(
      `${d.where}: door ${d.name}: stop_command${v6} does not delete the rule start_command${v6} adds ` +
        `(${start} / ${stop}): when a stop finds no such rule, knocklog counts the door as closed, ` +
        'and the rule the start added would stay. Fix: give the stop the same table, chain and match as the start',
    );
  }
  return out;
}
