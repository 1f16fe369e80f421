// The same rule change made carelessly (no patched()): a run recorded before it no longer replays.
import { ruleChangeWith } from './api';

export const ruleChange = ruleChangeWith(() => true);
